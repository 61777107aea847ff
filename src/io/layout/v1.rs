//! Version 1: a store per table of the schema (by id, with its band and band-and-time
//! indexes), the outbox (by sequence, with a row index), conflict records, settings, cursors,
//! read marks and the sync log.

use super::Layout;
use rockon_sync_core::schema::{snake_to_camel, Schema};

pub(super) fn step(layout: &mut Layout, schema: &Schema) {
    for table in &schema.tables {
        let scope = snake_to_camel(&table.scope);
        layout
            .add(&table.name, "id")
            .index("scope", &[&scope])
            .index("scopeUpdated", &[&scope, "updatedAt"]);
    }
    layout.add("outbox", "seq").index("row", &["rowId"]);
    layout.add("conflicts", "key");
    layout.add("meta", "key");
    layout.add("cursors", "key");
    layout.add("read_marks", "key");
    layout.add("sync_log", "seq").auto_increment = true;
}
