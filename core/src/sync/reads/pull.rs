//! Catch-up pulls: every table of a band from its saved cursor, page by page, over REST. Each
//! page's rows and the cursor they bring the table to are stored in one batch.

use super::{LocalEdits, ReadEngine, ReadEvent, ReadOutput, Waiting};
use crate::catchup::{Cursor, PullPlan, PullProgress};
use crate::json_read::array_items;
use crate::notify::Action;
use crate::outbox::{HttpRequest, HttpResult};
use crate::realtime::{Event, Record};
use crate::schema::TableSchema;
use crate::sorted::SortedSet;
use crate::sync::events::{ChangeAction, ChangeSource, RowsChanged};
use crate::sync::store::{cursor_key, ApplyBatch, ReadResult, ServerRows, StoreError, StoreRead};
use crate::unread::ObservedRow;
use crate::value::Value;

/// Rows per catch-up page.
const PAGE_SIZE: usize = 1000;

/// How far before the saved cursor each pull starts.
const OVERLAP_MS: u64 = 5_000;

/// One band's pull.
#[derive(Debug)]
pub(super) struct BandPull {
    /// Another pull was asked for while this one ran: it runs after.
    again: bool,
    /// The band's first download: every table is counted first, and nothing is news.
    first: bool,
    cursors: Vec<Option<Cursor>>,
    progress: PullProgress,
    step: Step,
}

/// What the pull waits for.
#[derive(Debug)]
enum Step {
    Cursors,
    Count {
        table: usize,
    },
    Page {
        table: usize,
        first_page: bool,
    },
    Store {
        table: usize,
        next: Option<Cursor>,
        read: usize,
        observed: Vec<ObservedRow>,
    },
}

/// A page read: its cursor, its rows without local edits, and who changed them how.
struct Page {
    cursor: Option<Cursor>,
    fresh: String,
    observed: Vec<ObservedRow>,
    read: usize,
}

fn plan_of(table: &TableSchema, band: &str) -> PullPlan {
    PullPlan {
        table: table.name.clone(),
        scope_column: table.scope.clone(),
        scope: band.to_owned(),
        page_size: PAGE_SIZE,
        overlap_ms: OVERLAP_MS,
    }
}

impl ReadEngine {
    /// Pulls a band from its cursors; if it is being pulled, once more after.
    pub(super) fn start_pull(&mut self, band: String) {
        if let Some(pull) = self.pulls.get_mut(&band) {
            pull.again = true;
            return;
        }
        self.pulls.insert(
            band.clone(),
            BandPull {
                again: false,
                first: false,
                cursors: Vec::new(),
                progress: PullProgress::default(),
                step: Step::Cursors,
            },
        );
        let op = self.op(Waiting::Pull(band.clone()));
        let read = StoreRead::Cursors { band };
        self.outputs.push_back(ReadOutput::Read { op, read });
    }

    fn pull_request(&mut self, band: &str, step: Step, request: HttpRequest) {
        if let Some(pull) = self.pulls.get_mut(band) {
            pull.step = step;
        }
        self.http(Waiting::Pull(band.to_owned()), request);
    }

    fn count(&mut self, band: &str, table: usize) {
        let request = plan_of(&self.schema.tables[table], band).count_request();
        self.pull_request(band, Step::Count { table }, request);
    }

    fn first_page(&mut self, band: &str, table: usize) {
        let saved = self.pulls.get(band).and_then(|p| p.cursors[table].clone());
        let request = plan_of(&self.schema.tables[table], band).first_page(saved.as_ref());
        let step = Step::Page {
            table,
            first_page: true,
        };
        self.pull_request(band, step, request);
    }

    /// The saved cursors: the pull starts with its first table (a first download counts
    /// every table first, so its progress knows the whole total).
    pub(super) fn pull_read(&mut self, band: &str, result: Result<ReadResult, StoreError>) {
        let tables = self.schema.tables.len();
        let cursors = match result {
            Ok(ReadResult::Cursors(mut cursors)) => {
                cursors.resize(tables, None);
                cursors
            }
            Ok(_) => {
                let message = "the store answered a cursors read with something else".into();
                self.error("storage_failed", message);
                return self.end_pull(band, false);
            }
            Err(error) => {
                self.error(error.code(), error.to_string());
                return self.end_pull(band, false);
            }
        };
        let Some(pull) = self.pulls.get_mut(band) else {
            return;
        };
        pull.first = cursors.iter().all(Option::is_none);
        pull.cursors = cursors;
        match pull.first {
            true => self.count(band, 0),
            false => self.first_page(band, 0),
        }
    }

    /// The body of a successful answer (200, or 206 for a counted page of more rows); `None`
    /// when the pull must stop: offline or failing (the next catch-up retries), or asking for
    /// a token after a 401.
    fn body_of(&mut self, result: HttpResult) -> Option<String> {
        match result {
            HttpResult::Response {
                status: 200 | 206,
                body,
            } => Some(body),
            HttpResult::Response { status: 401, .. } => {
                self.emit(ReadEvent::Realtime(Event::NeedToken));
                None
            }
            _ => None,
        }
    }

    pub(super) fn pull_answered(
        &mut self,
        band: &str,
        result: HttpResult,
        total: Option<u64>,
        local: &dyn LocalEdits,
    ) {
        let Some(body) = self.body_of(result) else {
            return self.end_pull(band, false);
        };
        let Some(pull) = self.pulls.get_mut(band) else {
            return;
        };
        match pull.step {
            Step::Count { table } => {
                pull.progress.expect(total.unwrap_or(0));
                if table + 1 < self.schema.tables.len() {
                    return self.count(band, table + 1);
                }
                let progress = pull.progress;
                self.report_progress(band, progress, false);
                self.first_page(band, 0);
            }
            Step::Page { table, first_page } => {
                if first_page && !pull.first {
                    pull.progress.expect(total.unwrap_or(0));
                }
                self.page_read(band, table, &body, local);
            }
            _ => {}
        }
    }

    fn page_read(&mut self, band: &str, table: usize, body: &str, local: &dyn LocalEdits) {
        let spec = &self.schema.tables[table];
        let page = match read_page(spec, band, body, local) {
            Ok(page) => page,
            Err(why) => {
                // Nothing of it is applied and no cursor moves; the next catch-up (at the
                // latest the anti-entropy pull) asks again.
                let message = format!(
                    "a catch-up page of {} could not be read ({why}); it will be pulled again",
                    spec.name
                );
                self.error("unreadable_answer", message);
                return self.end_pull(band, false);
            }
        };
        let batch = ApplyBatch {
            rows: vec![ServerRows::text(spec.name.clone(), page.fresh)],
            deletions: Vec::new(),
            cursor: (page.cursor.clone()).map(|c| (cursor_key(&spec.name, band), c)),
        };
        if let Some(pull) = self.pulls.get_mut(band) {
            pull.step = Step::Store {
                table,
                next: page.cursor,
                read: page.read,
                observed: page.observed,
            };
        }
        let op = self.op(Waiting::Pull(band.to_owned()));
        self.outputs.push_back(ReadOutput::Apply { op, batch });
    }

    /// A page was stored: tell the app what was written (quietly for a table's first
    /// download), then read on.
    pub(super) fn page_stored(&mut self, band: &str, result: Result<Vec<String>, StoreError>) {
        let written = match result {
            Ok(written) => written,
            Err(error) => {
                self.error(error.code(), error.to_string());
                return self.end_pull(band, false);
            }
        };
        let Some(pull) = self.pulls.get_mut(band) else {
            return;
        };
        let Step::Store {
            table,
            next,
            read,
            observed,
        } = std::mem::replace(&mut pull.step, Step::Cursors)
        else {
            return;
        };
        let quiet = pull.cursors[table].is_none();
        if read > 0 {
            pull.progress.read(read as u64);
        }
        let progress = pull.progress;
        let name = self.schema.tables[table].name.clone();
        if !written.is_empty() {
            let mut ids: SortedSet<&String> = SortedSet::new();
            for id in &written {
                ids.insert(id);
            }
            let mut rows = Vec::new();
            for row in observed {
                if ids.contains(&row.id) {
                    rows.push(row);
                }
            }
            self.emit(ReadEvent::Observed { rows, quiet });
            self.emit(ReadEvent::Change(RowsChanged {
                table: name,
                scope: band.to_owned(),
                ids: written,
                action: ChangeAction::Upsert,
                source: ChangeSource::Pull,
            }));
        }
        if read > 0 {
            self.report_progress(band, progress, false);
        }
        let plan = plan_of(&self.schema.tables[table], band);
        match next {
            Some(cursor) if !plan.is_last_page(read) => {
                let step = Step::Page {
                    table,
                    first_page: false,
                };
                self.pull_request(band, step, plan.next_page(&cursor));
            }
            _ if table + 1 < self.schema.tables.len() => self.first_page(band, table + 1),
            _ => self.end_pull(band, true),
        }
    }

    /// Records and tells how far the band's pull has come.
    fn report_progress(&mut self, band: &str, progress: PullProgress, finished: bool) {
        self.info.progress.insert(band.to_owned(), progress);
        self.emit(ReadEvent::Progress {
            band: band.to_owned(),
            progress,
            finished,
        });
    }

    /// Ends a band's pull; `finished` when every table was read to its end and stored.
    fn end_pull(&mut self, band: &str, finished: bool) {
        let Some(mut pull) = self.pulls.remove(band) else {
            return;
        };
        // A pull that found nothing to read (most anti-entropy pulls) has no progress to end.
        if finished && (pull.first || pull.progress.total > 0) {
            pull.progress.finish();
            self.report_progress(band, pull.progress, true);
        }
        self.info.progress.remove(band);
        if finished {
            self.schedule.pull_finished();
            self.emit(ReadEvent::Synced {
                band: band.to_owned(),
            });
        }
        if pull.again {
            self.start_pull(band.to_owned());
        }
    }
}

/// Reads a page: the cursor is the last row's (updated_at, id), both as the server wrote them;
/// a row without them is an unreadable answer, never an empty cursor to page from. Rows with
/// local edits are left out (those are never overwritten).
fn read_page(
    spec: &TableSchema,
    band: &str,
    body: &str,
    local: &dyn LocalEdits,
) -> Result<Page, &'static str> {
    let rows = array_items(body).ok_or("not a JSON array of rows")?;
    let text = |value: Option<Value>| match value {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    let label = spec.label.as_deref().unwrap_or("id");
    let mut fresh = String::with_capacity(body.len());
    fresh.push('[');
    let mut observed = Vec::new();
    let mut cursor = None;
    for raw in &rows {
        let record = Record::from_valid_text(raw).ok_or("a row that is not an object")?;
        let [id, updated_at, deleted_at, created_at, author, label_value] = record.fields([
            "id",
            "updated_at",
            "deleted_at",
            "created_at",
            "last_modified_by",
            label,
        ]);
        let id = text(id).ok_or("a row without an id")?;
        let updated_at = text(updated_at);
        cursor = updated_at.clone().map(|updated_at| Cursor {
            updated_at,
            id: id.clone(),
        });
        if local.has_local_edits(&spec.name, &id) {
            continue;
        }
        let created_at = text(created_at);
        let action = if text(deleted_at).is_some() {
            Action::Deleted
        } else if created_at.is_some() && created_at == updated_at {
            Action::Added
        } else {
            Action::Updated
        };
        if fresh.len() > 1 {
            fresh.push(',');
        }
        fresh.push_str(raw);
        observed.push(ObservedRow {
            table: spec.name.clone(),
            scope: band.to_owned(),
            id,
            author: text(author),
            label: spec.label.as_ref().and(text(label_value)),
            action,
        });
    }
    fresh.push(']');
    if !rows.is_empty() && cursor.is_none() {
        return Err("a row without updated_at or id");
    }
    Ok(Page {
        cursor,
        fresh,
        observed,
        read: rows.len(),
    })
}
