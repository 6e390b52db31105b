//! `#[tauri::command]` and `#[tauri::mobile_entry_point]`, as no-ops: the
//! driver calls the command functions directly, as the webview's `invoke`
//! would through the generated handler.

use proc_macro::TokenStream;

/// The function stays a plain (async) function.
#[proc_macro_attribute]
pub fn command(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// The entry point stays a plain function (never called by the driver).
#[proc_macro_attribute]
pub fn mobile_entry_point(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
