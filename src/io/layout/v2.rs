//! Version 2: members' display names, for notifications ("3 changes by Alice").

use super::Layout;
use rockon_sync_core::schema::Schema;

pub(super) fn step(layout: &mut Layout, _schema: &Schema) {
    layout.add("profiles", "id");
}
