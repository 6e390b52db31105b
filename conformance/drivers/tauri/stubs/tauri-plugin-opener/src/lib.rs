//! `tauri_plugin_opener::init()`: a plugin value the stub `Builder` ignores.

pub struct Plugin;

pub fn init() -> Plugin {
    Plugin
}
