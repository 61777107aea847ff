//! Version 3: the activity feed.

use super::Layout;
use rockon_sync_core::schema::Schema;

pub(super) fn step(layout: &mut Layout, _schema: &Schema) {
    layout.add("activity", "id");
}
