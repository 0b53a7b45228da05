//! The chat domain of salesiq-gateway: portals, departments, operators,
//! visitors, chats, routing, command execution and timers, behind the
//! `Gateway` handle, with the `Store` and `Authenticator` traits and an
//! embedded SQLite store.
//!
//! This crate knows nothing of XMPP: it speaks in its own ids and events, and
//! a transport (such as `salesiq-xmpp`) plugs in at that seam.
//!
//! **Status:** not built yet. The chat-domain issue delivers it; until then
//! the crate is empty on purpose so that the workspace has its final shape.
