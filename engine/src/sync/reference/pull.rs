//! The reference's pull side: applying feed and timestamp pages with
//! their cursor, a new feed epoch, and the bytes of pulled images. The
//! decisions are `rules::cursor` and `rules::pull`.

use serde_json::Value;

use super::{Phase, ReferenceSession};
use crate::error::{Error, Result};
use crate::model::ServerItem;
use crate::rules::cursor::{self as cursor_rules, EpochAction};
use crate::rules::pull::{self as pull_rules, ImageAnswer, PullAction};
use crate::store::cursor::{self, Cursor};
use crate::store::links;
use crate::store::Store;
use crate::sync::wire::parse_items;
use crate::sync::{Mode, Response, Summary};

impl ReferenceSession {
    pub(super) fn apply_page(
        &mut self,
        store: &mut Store,
        items: &[ServerItem],
        cursor: Option<(Cursor, i64)>,
        now: i64,
    ) -> Result<()> {
        let (key, ids) = (self.key.clone(), self.ids.clone());
        let mut tally = Summary::default();
        let mut kept = false;
        // The page and the cursor move together, or not at all (guarantee 2).
        store.tx(|tx| {
            for si in items {
                match links::apply(tx, ids.as_ref(), &key, si, now)? {
                    PullAction::Insert | PullAction::Take => tally.pulled += 1,
                    PullAction::Defer => tally.conflicts += 1,
                    PullAction::Keep => {
                        tally.conflicts += 1;
                        kept = true;
                    }
                    PullAction::Skip => {}
                }
            }
            if let Some((kind, c)) = cursor {
                cursor::set(tx, kind, &key, c)?;
            }
            Ok(())
        })?;
        self.summary.pulled += tally.pulled;
        self.summary.conflicts += tally.conflicts;
        self.kept |= kept;
        Ok(())
    }

    /// Where a finished pull goes: back to the push phase when it kept a
    /// held image's later edit, so the edit reaches this server in this
    /// sync, not the next one (a round later for every other device:
    /// found by the simulator); else on to the images.
    fn after_pull(&mut self) -> Phase {
        if std::mem::take(&mut self.kept) && self.mode != Mode::PullOnly {
            Phase::Push
        } else {
            Phase::Images
        }
    }

    /// The feed's `epoch` in an answer (`rules::cursor::on_epoch`). On a
    /// restored server, everything this device has is marked for push and
    /// the feed cursor is dropped, then the session goes back to its push
    /// phase; `true` then.
    pub(super) fn epoch_changed(&mut self, store: &mut Store, body: &Value) -> Result<bool> {
        let Some(epoch) = body.get("epoch").and_then(Value::as_i64) else {
            return Ok(false);
        };
        let known = cursor::get(store.conn(), Cursor::Epoch, &self.key)?;
        let action = cursor_rules::on_epoch(known, epoch);
        if action == EpochAction::Same {
            return Ok(false);
        }
        let key = self.key.clone();
        store.tx(|tx| {
            if action == EpochAction::Restored {
                links::mark_restored(tx, &key)?;
                cursor::forget(tx, Cursor::Feed, &key)?;
            }
            cursor::set(tx, Cursor::Epoch, &key, epoch)
        })?;
        let reset = action == EpochAction::Restored;
        if reset {
            self.summary.server_changed = true;
            self.failed.clear();
            self.phase = Phase::Push;
        }
        Ok(reset)
    }

    pub(super) fn on_feed(
        &mut self,
        store: &mut Store,
        resp: &Response,
        after: i64,
        now: i64,
    ) -> Result<()> {
        crate::sync::require_200(resp)?;
        let body = resp.json()?;
        let items = parse_items(&body)?;
        let cursor = body
            .get("cursor")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::Malformed("change feed answer without cursor".into()))?;
        let more = body
            .get("hasMore")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !cursor_rules::feed_step_ok(after, cursor, more) {
            return Err(Error::Malformed(format!(
                "change feed cursor went from {after} to {cursor}"
            )));
        }
        if self.epoch_changed(store, &body)? {
            return Ok(());
        }
        self.apply_page(store, &items, Some((Cursor::Feed, cursor)), now)?;
        if !more {
            self.phase = self.after_pull();
        }
        Ok(())
    }

    pub(super) fn on_since(
        &mut self,
        store: &mut Store,
        resp: &Response,
        since: i64,
        now: i64,
    ) -> Result<()> {
        crate::sync::require_200(resp)?;
        let items = parse_items(&resp.json()?)?;
        let newest = items.iter().map(|i| i.updated_at).max();
        let cursor = cursor_rules::timestamp_cursor(since, newest).map(|c| (Cursor::Timestamp, c));
        self.apply_page(store, &items, cursor, now)?;
        self.phase = self.after_pull();
        Ok(())
    }

    /// Keeps an image's bytes. A server without them (404, a legacy row)
    /// is not an error: the image is skipped for the rest of the session.
    pub(super) fn on_image(
        &mut self,
        store: &mut Store,
        resp: &Response,
        local_id: String,
    ) -> Result<()> {
        match pull_rules::on_image(resp.status, resp.body.is_empty()) {
            ImageAnswer::Keep => {
                store.tx(|tx| links::set_bytes(tx, &local_id, &resp.body))?;
            }
            ImageAnswer::NoBytes => {
                self.no_bytes.insert(local_id);
            }
            ImageAnswer::Fail => {
                return Err(Error::Server {
                    status: resp.status,
                    body: String::from_utf8_lossy(&resp.body).into(),
                })
            }
        }
        Ok(())
    }
}
