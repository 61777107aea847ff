//! The push loop of the leading tab: one request at a time, each answer's effects applied to
//! storage before the next.

use super::*;

pub(super) fn kick(inner: &Rc<Inner>) {
    if inner.stopped.get()
        || !inner.leader.get()
        || inner.offline.get()
        || inner.draining.replace(true)
    {
        return;
    }
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        drain(weak.clone()).await;
        if let Some(inner) = weak.upgrade() {
            inner.draining.set(false);
            schedule(&inner);
        }
    });
}

fn schedule(inner: &Rc<Inner>) {
    let due = inner.outbox.borrow().poll_timeout();
    let timer = due.map(|at| {
        let weak: Weak<Inner> = Rc::downgrade(inner);
        let delay = at.since(clock::now()).min(u64::from(u32::MAX)) as u32;
        Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                kick(&inner);
            }
        })
    });
    *inner.timer.borrow_mut() = timer;
}

/// Pushes due entries one at a time until none is due. Storage is never held across a request.
async fn drain(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.stopped.get() || !inner.leader.get() || inner.offline.get() {
            return;
        }
        let next = inner.outbox.borrow_mut().next_request(clock::now());
        let Some((seq, mut request)) = next else {
            return;
        };
        let first_send = inner
            .outbox
            .borrow()
            .entry(seq)
            .cloned()
            .filter(|e| e.attempts == 1);
        if let Some(entry) = first_send {
            // From now on the write may be on the server: a reload, or the next leading tab,
            // must know it was sent (see Outbox::next_request).
            if inner.store.write(&[Write::Entry(entry)]).await.is_err() {
                // Not recorded: sending anyway would risk a coalesced retry later.
                inner.outbox.borrow_mut().abandon(clock::now(), seq);
                return;
            }
        }
        let table = inner
            .outbox
            .borrow()
            .entry(seq)
            .map(|e| e.table.clone())
            .unwrap_or_default();
        let Ok(spec) = inner.store.schema().table(&table).cloned() else {
            return;
        };
        loop {
            let endpoint = inner.endpoint.borrow().clone();
            let result = http::send(&endpoint, &request).await;
            let (effects, follow_up) =
                inner
                    .outbox
                    .borrow_mut()
                    .complete(clock::now(), seq, result, &spec);
            if let Err(error) = apply(&inner, effects).await {
                (inner.on_event)(WriteEvent::Error {
                    code: error.code(),
                    message: error.to_string(),
                });
                return;
            }
            match follow_up {
                Some(next) => request = next,
                None => break,
            }
        }
    }
}

/// Persists the effects of one push in one transaction, then tells the app.
pub(super) async fn apply(inner: &Rc<Inner>, effects: Vec<Effect>) -> Result<(), StoreError> {
    if effects
        .iter()
        .any(|e| matches!(e, Effect::StoreServerRow { .. }))
    {
        // The server answered with its row: this write is confirmed.
        inner.last_confirmed.set(js_sys::Date::now());
    }
    let mut writes = Vec::new();
    let mut events = Vec::new();
    for effect in effects {
        match effect {
            Effect::AddEntry(entry) => writes.push(Write::NewEntry(entry)),
            Effect::PutEntry(entry) => writes.push(Write::Entry(entry)),
            Effect::RemoveEntry(seq) => writes.push(Write::RemoveEntry(seq)),
            Effect::StoreServerRow { table, row } | Effect::StoreMergedRow { table, row } => {
                let scope_column = inner
                    .store
                    .schema()
                    .table(&table)
                    .map(|t| t.scope.clone())
                    .unwrap_or_default();
                let scope = row
                    .get(&scope_column)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let id = row
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let deleted = row.get("deleted_at").is_some_and(|v| !v.is_null());
                events.push(WriteEvent::Change(RowsChanged {
                    table: table.clone(),
                    scope,
                    ids: vec![id],
                    action: if deleted { "delete" } else { "update" },
                    source: "server",
                }));
                writes.push(Write::Row { table, row });
            }
            Effect::Conflict(record) => {
                let key = format!("{}:{}", record.table, record.row_id);
                inner.conflicted.borrow_mut().insert(key);
                writes.push(Write::Conflict(record.clone()));
                events.push(WriteEvent::Conflict(record));
            }
            Effect::Status {
                table,
                row_id,
                status,
            } => events.push(WriteEvent::Status {
                table,
                id: row_id,
                status,
            }),
            Effect::NeedToken => events.push(WriteEvent::NeedToken),
        }
    }
    inner.store.write(&writes).await?;
    for event in events {
        (inner.on_event)(event);
    }
    Ok(())
}
