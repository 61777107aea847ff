//! A WebSocket whose event handlers are owned closures, released when the handle drops.

use super::frames;
use rockon_sync_core::realtime::{RoutedFrame, Vsn};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// What a socket reports.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    /// The connection opened.
    Open,
    /// A text frame.
    Text(String),
    /// A text frame holding a row change, read by `JSON.parse` (see [`frames`]).
    Change(Box<RoutedFrame>),
    /// A binary frame of this many bytes.
    Binary(usize),
    /// The connection closed (or never opened).
    Closed {
        /// Close code; 1006 when the browser saw no close frame.
        code: u16,
        /// Close reason.
        reason: String,
    },
}

/// An open or opening WebSocket. Dropping it detaches the handlers and closes the socket, so no
/// closure outlives it and nothing leaks per reconnect.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(JsValue)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens a socket to `url` speaking `vsn`, reporting every event to `sink`. Row changes
    /// are read in JavaScript when a frame is at most `max_frame_bytes` long. When the browser
    /// refuses to open it (a malformed URL, a blocked port), the error is what it said.
    pub fn open(
        url: &str,
        vsn: Vsn,
        max_frame_bytes: usize,
        sink: impl Fn(SocketEvent) + 'static,
    ) -> Result<Socket, String> {
        Socket::open_with(url, vsn, max_frame_bytes, Rc::new(sink))
    }

    /// [`open`](Self::open) with the sink behind a pointer: one copy of the socket's handlers
    /// for every kind of sink, where a generic sink made a copy per kind.
    fn open_with(
        url: &str,
        vsn: Vsn,
        max_frame_bytes: usize,
        sink: Rc<dyn Fn(SocketEvent)>,
    ) -> Result<Socket, String> {
        let ws = WebSocket::new(url).map_err(|error| {
            super::idb::thrown_text(&error)
                .unwrap_or_else(|| "the browser refused to open the socket".to_owned())
        })?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let sink = sink.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| sink(SocketEvent::Open))
        };
        let on_message = {
            let sink = sink.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let data = event.data();
                if let Some(change) = frames::route(&data, vsn, max_frame_bytes) {
                    return sink(SocketEvent::Change(Box::new(change)));
                }
                match data.as_string() {
                    Some(text) => sink(SocketEvent::Text(text)),
                    None => {
                        let len = data
                            .dyn_ref::<js_sys::ArrayBuffer>()
                            .map_or(0, |b| b.byte_length() as usize);
                        sink(SocketEvent::Binary(len))
                    }
                }
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            sink(SocketEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            })
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends a text frame. A socket that is not open drops it: the core's push timeouts and
    /// heartbeat notice and recover.
    pub fn send(&self, text: &str) {
        if self.ws.ready_state() == WebSocket::OPEN {
            let _ = self.ws.send_with_str(text);
        }
    }

    /// Closes with `code` and `reason`.
    pub fn close(&self, code: u16, reason: &str) {
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
