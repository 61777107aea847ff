//! The IndexedDB layout, one file per version step. Each step changes the layout the previous
//! one left; opening folds the steps up to [`DB_VERSION`] into the stores and indexes the
//! database must have, and the browser's upgrade creates what is missing and deletes what is
//! no longer listed ([`super::idb`]), keeping every record of the stores that stay. A step
//! never edits an earlier one: a user's database may be at any version shipped.

use rockon_sync_core::json_text::{ObjectWriter, WriteJson};
use rockon_sync_core::schema::Schema;

mod v1;
mod v2;
mod v3;
mod v4;

/// The version of the layout this release opens. Each version has its own step here and an
/// upgrade test (`tests/upgrade.rs`) from the versions shipped before it.
pub const DB_VERSION: u32 = 4;

/// One index of a store.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    /// The index name.
    pub name: String,
    /// The key path (one property, or several for a compound key).
    pub key_path: Vec<String>,
}

/// One object store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSpec {
    /// The store name.
    pub name: String,
    /// Its key path.
    pub key_path: String,
    /// Whether keys are generated.
    pub auto_increment: bool,
    /// Its indexes.
    pub indexes: Vec<IndexSpec>,
}

impl WriteJson for IndexSpec {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("name", &self.name)
            .field("keyPath", &self.key_path)
            .end();
    }
}

impl WriteJson for StoreSpec {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("name", &self.name)
            .field("keyPath", &self.key_path)
            .field("autoIncrement", &self.auto_increment)
            .field("indexes", &self.indexes)
            .end();
    }
}

/// The stores a version has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Stores in the order they were added.
    pub stores: Vec<StoreSpec>,
}

impl Layout {
    /// Adds a store keyed by `key_path`.
    fn add(&mut self, name: &str, key_path: &str) -> &mut StoreSpec {
        self.stores.push(StoreSpec {
            name: name.to_owned(),
            key_path: key_path.to_owned(),
            auto_increment: false,
            indexes: Vec::new(),
        });
        self.stores.last_mut().expect("just added")
    }

    /// The store `name`, if the layout has it.
    pub fn store(&self, name: &str) -> Option<&StoreSpec> {
        self.stores.iter().find(|s| s.name == name)
    }

    fn store_mut(&mut self, name: &str) -> Option<&mut StoreSpec> {
        self.stores.iter_mut().find(|s| s.name == name)
    }

    /// Drops a store and its records.
    fn drop_store(&mut self, name: &str) {
        self.stores.retain(|s| s.name != name);
    }
}

impl StoreSpec {
    fn index(&mut self, name: &str, key_path: &[&str]) -> &mut Self {
        let mut path = Vec::with_capacity(key_path.len());
        for key in key_path {
            path.push((*key).to_owned());
        }
        self.indexes.push(IndexSpec {
            name: name.to_owned(),
            key_path: path,
        });
        self
    }

    fn drop_index(&mut self, name: &str) {
        self.indexes.retain(|i| i.name != name);
    }
}

/// The layout at `version` for `schema`'s tables: the steps up to it, in order.
pub fn at_version(version: u32, schema: &Schema) -> Layout {
    let steps: [fn(&mut Layout, &Schema); 4] = [v1::step, v2::step, v3::step, v4::step];
    let mut layout = Layout::default();
    for step in steps.iter().take(version as usize) {
        step(&mut layout, schema);
    }
    layout
}
