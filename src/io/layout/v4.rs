//! Version 4: what nothing reads goes. The settings store was never written; lists read a
//! band's rows through the `scope` index alone, and the outbox is read whole, so the
//! band-and-time index of every table and the outbox's row index only cost every write.

use super::Layout;
use rockon_sync_core::schema::Schema;

pub(super) fn step(layout: &mut Layout, schema: &Schema) {
    layout.drop_store("meta");
    for table in &schema.tables {
        if let Some(store) = layout.store_mut(&table.name) {
            store.drop_index("scopeUpdated");
        }
    }
    if let Some(outbox) = layout.store_mut("outbox") {
        outbox.drop_index("row");
    }
}
