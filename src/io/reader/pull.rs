//! Catch-up pulls: every table of a band from its saved cursor, page by page, over REST.

use super::*;

/// Rows per catch-up page.
const PAGE_SIZE: usize = 1000;

/// How far before the saved cursor each pull starts.
const OVERLAP_MS: u64 = 5_000;

pub(super) fn start_pull(inner: &Rc<Inner>, band: String) {
    if !inner.pulling.borrow_mut().insert(band.clone()) {
        inner.pull_again.borrow_mut().insert(band);
        return;
    }
    let weak: Weak<Inner> = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            pull_band(&inner, &band).await;
            if !inner.pull_again.borrow_mut().remove(&band) {
                inner.pulling.borrow_mut().remove(&band);
                return;
            }
        }
    });
}

/// Pulls every table of a band from its cursor, page by page; each page's rows and the cursor
/// they reach are saved in one transaction. While it runs, its progress (rows read of rows the
/// server counted) is in the connection info and told as events.
async fn pull_band(inner: &Rc<Inner>, band: &str) {
    let finished = pull_tables(inner, band).await;
    inner.info.borrow_mut().progress.remove(band);
    if finished {
        // Every table of the band answered and was applied: the band is as the server has it.
        inner.info.borrow_mut().last_synced_at = Some(js_sys::Date::now());
    }
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

/// Records and tells how far the band's pull has come.
fn report_progress(inner: &Inner, band: &str, progress: PullProgress, finished: bool) {
    inner
        .info
        .borrow_mut()
        .progress
        .insert(band.to_owned(), progress);
    (inner.on_event)(ReadEvent::Progress {
        band: band.to_owned(),
        progress,
        finished,
    });
}

/// The body of a successful answer (200, or 206 for a counted page of more rows); `None` when
/// the pull must stop (asking for a token after a 401).
fn answered(inner: &Inner, result: HttpResult) -> Option<String> {
    match result {
        HttpResult::Response {
            status: 200 | 206,
            body,
        } => Some(body),
        HttpResult::Response { status: 401, .. } => {
            (inner.on_event)(ReadEvent::Realtime(Event::NeedToken));
            None
        }
        // Offline or failing: the next catch-up (reconnect, online, visible) retries.
        _ => None,
    }
}

/// Pulls the band's tables; true when every one was read to its end and applied.
async fn pull_tables(inner: &Rc<Inner>, band: &str) -> bool {
    let tables = inner.store.schema().tables.clone();
    let mut cursors = Vec::with_capacity(tables.len());
    for table in &tables {
        let key = format!("{}:{band}", table.name);
        match inner.store.cursor(&key).await {
            Ok(value) => cursors.push(value.and_then(|v| store::from_js::<Cursor>(&v).ok())),
            Err(error) => {
                report(inner, &error);
                return false;
            }
        }
    }
    let mut progress = PullProgress::default();
    // A band's first download counts every table first: its progress knows the whole total.
    let first = cursors.iter().all(Option::is_none);
    if first {
        for table in &tables {
            let endpoint = inner.endpoint.borrow().clone();
            let (result, total) =
                http::send_counted(&endpoint, &plan_of(table, band).count_request()).await;
            if answered(inner, result).is_none() {
                return false;
            }
            progress.expect(total.unwrap_or(0));
        }
        report_progress(inner, band, progress, false);
    }
    for (table, saved) in tables.iter().zip(cursors) {
        if !pull_table(inner, band, table, saved, &mut progress, !first).await {
            return false;
        }
    }
    // A pull that found nothing to read (most anti-entropy pulls) has no progress to end.
    if first || progress.total > 0 {
        progress.finish();
        report_progress(inner, band, progress, true);
    }
    true
}

/// Pulls one table of the band from `saved`, page by page; with `count`, the first page's
/// total joins the progress. True when read to its end and applied.
async fn pull_table(
    inner: &Rc<Inner>,
    band: &str,
    table: &TableSchema,
    saved: Option<Cursor>,
    progress: &mut PullProgress,
    count: bool,
) -> bool {
    let key = format!("{}:{band}", table.name);
    let plan = plan_of(table, band);
    let mut request = plan.first_page(saved.as_ref());
    let mut first_page = true;
    loop {
        let endpoint = inner.endpoint.borrow().clone();
        let (result, total) = http::send_counted(&endpoint, &request).await;
        let Some(body) = answered(inner, result) else {
            return false;
        };
        if count && first_page {
            progress.expect(total.unwrap_or(0));
        }
        first_page = false;
        let Ok(page) = parse_rows(&body) else {
            unreadable_page(inner, &table.name, "not a JSON array of rows");
            return false;
        };
        let count_read = page.length() as usize;
        let Some((cursor, fresh)) = read_page(inner, table, &page) else {
            return false;
        };
        let cursor_record = cursor.as_ref().map(|c| (key.clone(), to_js(c)));
        if !store_page(inner, band, table, fresh, cursor_record, saved.is_none()).await {
            return false;
        }
        if count_read > 0 {
            progress.read(count_read as u64);
            report_progress(inner, band, *progress, false);
        }
        match cursor {
            Some(cursor) if !plan.is_last_page(count_read) => request = plan.next_page(&cursor),
            _ => return true,
        }
    }
}

/// A page's cursor and its rows without local edits (those are never overwritten). The cursor
/// is the last row's (updated_at, id), both as the server wrote them: a row without them is an
/// unreadable answer, never an empty cursor to page from.
fn read_page(inner: &Inner, table: &TableSchema, page: &Array) -> Option<(Option<Cursor>, Array)> {
    let text = |row: &JsValue, field: &str| {
        Reflect::get(row, &field.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let cursor = if page.length() == 0 {
        None
    } else {
        let last = page.get(page.length() - 1);
        match (text(&last, "updated_at"), text(&last, "id")) {
            (Some(updated_at), Some(id)) => Some(Cursor { updated_at, id }),
            _ => {
                unreadable_page(inner, &table.name, "a row without updated_at or id");
                return None;
            }
        }
    };
    let fresh = Array::new();
    for row in page.iter() {
        let Some(id) = text(&row, "id") else {
            unreadable_page(inner, &table.name, "a row without an id");
            return None;
        };
        if !(inner.has_local_edits)(&table.name, &id) {
            fresh.push(&row);
        }
    }
    Some((cursor, fresh))
}

/// Stores a page's rows with the cursor they bring the pull to, in one transaction, and tells
/// the app what was written (`quiet` for a band's first download). False if storage failed.
async fn store_page(
    inner: &Rc<Inner>,
    band: &str,
    table: &TableSchema,
    fresh: Array,
    cursor: Option<(String, JsValue)>,
    quiet: bool,
) -> bool {
    let stored = inner
        .store
        .apply_batch(&[(table.name.clone(), fresh.clone())], &[], cursor)
        .await;
    match stored {
        Ok(written) if !written.is_empty() => {
            let written_ids: IdSet = written.iter().cloned().collect();
            let rows = fresh
                .iter()
                .map(|row| observe_pulled(table, &row, band))
                .filter(|row| written_ids.contains(&row.id))
                .collect();
            (inner.on_event)(ReadEvent::Observed { rows, quiet });
            (inner.on_event)(ReadEvent::Change(RowsChanged {
                table: table.name.clone(),
                scope: band.to_owned(),
                ids: written,
                action: ChangeAction::Upsert,
                source: ChangeSource::Pull,
            }));
            true
        }
        Ok(_) => true,
        Err(error) => {
            report(inner, &error);
            false
        }
    }
}

/// A pull answer that cannot be read: nothing of it is applied and no cursor moves; the next
/// catch-up (at the latest the anti-entropy pull) asks again.
fn unreadable_page(inner: &Inner, table: &str, why: &str) {
    (inner.on_event)(ReadEvent::Error {
        code: "unreadable_answer",
        message: format!(
            "a catch-up page of {table} could not be read ({why}); it will be pulled again"
        ),
    });
}

/// A JSON array of rows from a REST body.
pub(super) fn parse_rows(body: &str) -> Result<Array, JsValue> {
    let value = js_sys::JSON::parse(body)?;
    wasm_bindgen::JsCast::dyn_into::<Array>(value)
}

/// Who changed a row how, from a row a pull found: new if it was never updated.
fn observe_pulled(spec: &TableSchema, row: &JsValue, scope: &str) -> ObservedRow {
    let text = |key: &str| Reflect::get(row, &key.into()).ok()?.as_string();
    let action = if text("deleted_at").is_some() {
        Action::Deleted
    } else if text("created_at").is_some() && text("created_at") == text("updated_at") {
        Action::Added
    } else {
        Action::Updated
    };
    ObservedRow {
        table: spec.name.clone(),
        scope: scope.to_owned(),
        id: text("id").unwrap_or_default(),
        author: text("last_modified_by"),
        label: spec.label.as_deref().and_then(text),
        action,
    }
}
