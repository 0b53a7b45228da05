//! Issue 12, finding 1: a Store can be written outside salesiq-session.
//! `Rebuilt` wraps the SQLite store as an embedder's own store would wrap
//! theirs (a cache, metrics, another schema): it builds every row it
//! returns anew from the public constructors, and passes the conformance
//! suite. A copy that leaks visitors across portals is caught by it.

#![allow(clippy::unwrap_used)]

use salesiq_session::{
    ArchivePage, ArchiveQuery, ArchivedMessage, Author, BoardPost, BoxFuture, CannedAnswer, Chat,
    ChatEvent, ChatId, ChatLine, ChatState, Credentials, Department, DepartmentId, LeftMessage,
    LeftMessageId, LiveChat, NewOperator, Note, OfflineMessage, Operator, OperatorId, OperatorRef,
    Photo, Portal, Routing, SqliteStore, Store, StoreResult, Visitor, VisitorDetails, VisitorId,
};

#[derive(Debug)]
struct Rebuilt {
    inner: SqliteStore,
    /// A bug to be caught: visitors found from any portal.
    leaks_visitors: bool,
}

fn portal(p: Portal) -> Portal {
    Portal::new(&p.name, &p.locale)
        .with_archive_days(p.archive_days)
        .with_max_chats_per_operator(p.max_chats_per_operator)
        .with_notify(p.notify)
}
fn department(d: Department) -> Department {
    Department::new(d.id, &d.portal, &d.name, d.convert_to_ticket)
        .with_routing(d.routing, d.offer_timeout_secs)
        .with_hours(d.hours.as_deref(), d.timezone.as_deref())
}
fn operator(o: Operator) -> Operator {
    Operator::new(o.id, &o.portal, &o.email, &o.display_name)
        .with_username(o.username.as_deref())
        .with_photo(o.photo)
        .with_max_chats(o.max_chats)
}
fn visitor(v: Visitor) -> Visitor {
    Visitor::new(v.id, &v.portal, v.number, v.details)
}
fn chat(c: Chat) -> Chat {
    Chat::new(c.id, &c.portal, c.visitor, c.department, &c.question)
        .in_state(c.state)
        .started_at(c.started)
        .with_rating(c.rating)
}
fn line(l: ChatLine) -> ChatLine {
    ChatLine::new(l.chat, l.at, l.author, &l.text)
}
fn note(n: Note) -> Note {
    Note::new(n.at, &n.author, &n.text)
}
fn post(p: BoardPost) -> BoardPost {
    BoardPost::new(p.at, &p.author, &p.text)
}
fn live_chat(l: LiveChat) -> LiveChat {
    LiveChat::new(l.chat, &l.portal, &l.token_hash)
        .with_members(l.operator, l.guests)
        .with_seq_reserved(l.seq_reserved)
        .with_owner(l.owner.as_deref())
}
fn canned_answer(a: CannedAnswer) -> CannedAnswer {
    CannedAnswer::new(&a.portal, a.department, &a.key, &a.text)
}
fn credentials(c: Credentials) -> Credentials {
    Credentials::new(&c.password_hash, c.scram_sha1, c.scram_sha256)
}

impl Store for Rebuilt {
    fn put_portal<'a>(&'a self, p: &'a Portal) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.put_portal(p)
    }
    fn portal<'a>(&'a self, name: &'a str) -> BoxFuture<'a, StoreResult<Option<Portal>>> {
        Box::pin(async move { Ok(self.inner.portal(name).await?.map(portal)) })
    }
    fn add_department<'a>(
        &'a self,
        p: &'a str,
        name: &'a str,
        convert: bool,
    ) -> BoxFuture<'a, StoreResult<Department>> {
        Box::pin(async move {
            Ok(department(
                self.inner.add_department(p, name, convert).await?,
            ))
        })
    }
    fn departments<'a>(&'a self, p: &'a str) -> BoxFuture<'a, StoreResult<Vec<Department>>> {
        Box::pin(async move {
            Ok(self
                .inner
                .departments(p)
                .await?
                .into_iter()
                .map(department)
                .collect())
        })
    }
    fn set_routing(
        &self,
        d: DepartmentId,
        routing: Routing,
        timeout: u32,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.set_routing(d, routing, timeout)
    }
    fn set_hours<'a>(
        &'a self,
        d: DepartmentId,
        hours: Option<&'a str>,
        timezone: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.set_hours(d, hours, timezone)
    }
    fn add_left_message<'a>(
        &'a self,
        m: &'a LeftMessage,
    ) -> BoxFuture<'a, StoreResult<LeftMessageId>> {
        self.inner.add_left_message(m)
    }
    fn left_messages<'a>(
        &'a self,
        p: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Vec<LeftMessage>>> {
        Box::pin(async move {
            Ok(self
                .inner
                .left_messages(p, limit)
                .await?
                .into_iter()
                .map(|m| {
                    LeftMessage::new(
                        &m.portal,
                        m.kind,
                        &m.name,
                        m.email.as_deref(),
                        &m.text,
                        m.at,
                    )
                    .with_id(m.id)
                    .with_department(m.department)
                    .with_chat(m.chat)
                })
                .collect())
        })
    }
    fn set_max_chats(&self, o: OperatorId, max: Option<u32>) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.set_max_chats(o, max)
    }
    fn assign_department(&self, o: OperatorId, d: DepartmentId) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.assign_department(o, d)
    }
    fn department_members(&self, d: DepartmentId) -> BoxFuture<'_, StoreResult<Vec<Operator>>> {
        Box::pin(async move {
            Ok(self
                .inner
                .department_members(d)
                .await?
                .into_iter()
                .map(operator)
                .collect())
        })
    }
    fn add_operator<'a>(&'a self, o: &'a NewOperator) -> BoxFuture<'a, StoreResult<Operator>> {
        Box::pin(async move { Ok(operator(self.inner.add_operator(o).await?)) })
    }
    fn operator_by_email<'a>(
        &'a self,
        p: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>> {
        Box::pin(async move { Ok(self.inner.operator_by_email(p, email).await?.map(operator)) })
    }
    fn operator_by_username<'a>(
        &'a self,
        u: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>> {
        Box::pin(async move { Ok(self.inner.operator_by_username(u).await?.map(operator)) })
    }
    fn operators<'a>(&'a self, p: &'a str) -> BoxFuture<'a, StoreResult<Vec<Operator>>> {
        Box::pin(async move {
            Ok(self
                .inner
                .operators(p)
                .await?
                .into_iter()
                .map(operator)
                .collect())
        })
    }
    fn username_available<'a>(&'a self, u: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.inner.username_available(u)
    }
    fn claim_username<'a>(
        &'a self,
        o: OperatorId,
        u: &'a str,
    ) -> BoxFuture<'a, StoreResult<Operator>> {
        Box::pin(async move { Ok(operator(self.inner.claim_username(o, u).await?)) })
    }
    fn set_photo<'a>(
        &'a self,
        o: OperatorId,
        photo: Option<&'a Photo>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.set_photo(o, photo)
    }
    fn set_credentials<'a>(
        &'a self,
        o: OperatorId,
        c: &'a Credentials,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.set_credentials(o, c)
    }
    fn credentials(&self, o: OperatorId) -> BoxFuture<'_, StoreResult<Option<Credentials>>> {
        Box::pin(async move { Ok(self.inner.credentials(o).await?.map(credentials)) })
    }
    fn add_visitor<'a>(
        &'a self,
        p: &'a str,
        d: &'a VisitorDetails,
    ) -> BoxFuture<'a, StoreResult<Visitor>> {
        Box::pin(async move { Ok(visitor(self.inner.add_visitor(p, d).await?)) })
    }
    fn visitor<'a>(
        &'a self,
        p: &'a str,
        id: VisitorId,
    ) -> BoxFuture<'a, StoreResult<Option<Visitor>>> {
        Box::pin(async move {
            if self.leaks_visitors {
                for other in ["conf-a", "conf-b"] {
                    if let Some(found) = self.inner.visitor(other, id).await? {
                        return Ok(Some(visitor(found)));
                    }
                }
            }
            Ok(self.inner.visitor(p, id).await?.map(visitor))
        })
    }
    fn set_current_page<'a>(
        &'a self,
        id: VisitorId,
        page: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.set_current_page(id, page)
    }
    fn add_chat<'a>(
        &'a self,
        p: &'a str,
        v: VisitorId,
        d: Option<DepartmentId>,
        q: &'a str,
    ) -> BoxFuture<'a, StoreResult<Chat>> {
        Box::pin(async move { Ok(chat(self.inner.add_chat(p, v, d, q).await?)) })
    }
    fn chat<'a>(&'a self, p: &'a str, id: ChatId) -> BoxFuture<'a, StoreResult<Option<Chat>>> {
        Box::pin(async move { Ok(self.inner.chat(p, id).await?.map(chat)) })
    }
    fn rate_chat<'a>(
        &'a self,
        chat: ChatId,
        rating: &'a salesiq_session::Rating,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.rate_chat(chat, rating)
    }
    fn unfinished_chats(&self) -> BoxFuture<'_, StoreResult<Vec<ChatId>>> {
        self.inner.unfinished_chats()
    }
    fn set_chat_state(&self, id: ChatId, state: ChatState) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.set_chat_state(id, state)
    }
    fn add_line<'a>(
        &'a self,
        c: ChatId,
        a: &'a Author,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.add_line(c, a, text)
    }
    fn transcript(&self, c: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>> {
        Box::pin(async move {
            Ok(self
                .inner
                .transcript(c)
                .await?
                .into_iter()
                .map(line)
                .collect())
        })
    }
    fn history(&self, v: VisitorId, limit: usize) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>> {
        Box::pin(async move {
            Ok(self
                .inner
                .history(v, limit)
                .await?
                .into_iter()
                .map(line)
                .collect())
        })
    }
    fn add_note<'a>(
        &'a self,
        v: VisitorId,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.add_note(v, author, text)
    }
    fn notes(&self, v: VisitorId) -> BoxFuture<'_, StoreResult<Vec<Note>>> {
        Box::pin(async move { Ok(self.inner.notes(v).await?.into_iter().map(note).collect()) })
    }
    fn block_ip<'a>(
        &'a self,
        p: &'a str,
        ip: &'a str,
        reason: &'a str,
        by: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.block_ip(p, ip, reason, by)
    }
    fn is_blocked<'a>(&'a self, p: &'a str, ip: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        self.inner.is_blocked(p, ip)
    }
    fn post<'a>(
        &'a self,
        p: &'a str,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.post(p, author, text)
    }
    fn posts<'a>(&'a self, p: &'a str, limit: usize) -> BoxFuture<'a, StoreResult<Vec<BoardPost>>> {
        Box::pin(async move {
            Ok(self
                .inner
                .posts(p, limit)
                .await?
                .into_iter()
                .map(post)
                .collect())
        })
    }
    fn link_ticket<'a>(&'a self, c: ChatId, ticket: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.link_ticket(c, ticket)
    }
    fn linked_ticket(&self, c: ChatId) -> BoxFuture<'_, StoreResult<Option<String>>> {
        self.inner.linked_ticket(c)
    }
    fn save_live_chat<'a>(&'a self, chat: &'a LiveChat) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.save_live_chat(chat)
    }
    fn live_chats(&self) -> BoxFuture<'_, StoreResult<Vec<LiveChat>>> {
        Box::pin(async move {
            let kept = self.inner.live_chats().await?;
            Ok(kept.into_iter().map(live_chat).collect())
        })
    }
    fn live_chat<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<LiveChat>>> {
        Box::pin(async move { Ok(self.inner.live_chat(token_hash).await?.map(live_chat)) })
    }
    fn claim_live_chat(
        &self,
        chat: ChatId,
        from: Option<&str>,
        to: Option<&str>,
    ) -> BoxFuture<'_, StoreResult<bool>> {
        self.inner.claim_live_chat(chat, from, to)
    }
    fn drop_live_chat(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<()>> {
        self.inner.drop_live_chat(chat)
    }
    fn add_chat_event<'a>(
        &'a self,
        chat: ChatId,
        event: &'a ChatEvent,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.add_chat_event(chat, event)
    }
    fn chat_events(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatEvent>>> {
        Box::pin(async move {
            let kept = self.inner.chat_events(chat).await?;
            Ok(kept
                .into_iter()
                .map(|e| ChatEvent::new(e.seq, e.event))
                .collect())
        })
    }
    fn put_canned<'a>(&'a self, answer: &'a CannedAnswer) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.put_canned(answer)
    }
    fn canned<'a>(
        &'a self,
        p: &'a str,
        d: Option<DepartmentId>,
    ) -> BoxFuture<'a, StoreResult<Vec<CannedAnswer>>> {
        Box::pin(async move {
            let kept = self.inner.canned(p, d).await?;
            Ok(kept.into_iter().map(canned_answer).collect())
        })
    }
    fn delete_canned<'a>(
        &'a self,
        p: &'a str,
        d: Option<DepartmentId>,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        self.inner.delete_canned(p, d, key)
    }
    fn add_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
        m: &'a OfflineMessage,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.add_offline(to, m)
    }
    fn take_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
    ) -> BoxFuture<'a, StoreResult<Vec<OfflineMessage>>> {
        Box::pin(async move {
            let kept = self.inner.take_offline(to).await?;
            Ok(kept
                .into_iter()
                .map(|m| OfflineMessage::new(m.at, m.from, &m.text))
                .collect())
        })
    }
    fn archive<'a>(
        &'a self,
        owner: &'a OperatorRef,
        m: &'a ArchivedMessage,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.inner.archive(owner, m)
    }
    fn archived<'a>(
        &'a self,
        owner: &'a OperatorRef,
        query: &'a ArchiveQuery,
    ) -> BoxFuture<'a, StoreResult<ArchivePage>> {
        Box::pin(async move {
            let page = self.inner.archived(owner, query).await?;
            let messages = page
                .messages
                .into_iter()
                .map(|m| ArchivedMessage::new(m.id, m.at, m.with, m.outgoing, &m.text))
                .collect();
            Ok(ArchivePage::new(messages, page.complete, page.count))
        })
    }
    fn prune_archive<'a>(
        &'a self,
        portal: &'a str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        self.inner.prune_archive(portal, before)
    }
}

fn rebuilt(leaks_visitors: bool) -> (Rebuilt, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let inner = SqliteStore::open(dir.path().join("own.sqlite3")).unwrap();
    (
        Rebuilt {
            inner,
            leaks_visitors,
        },
        dir,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_written_outside_the_crate_conforms() {
    let (store, _dir) = rebuilt(false);
    salesiq_session::conformance::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "a visitor is found in its portal only")]
async fn a_store_that_leaks_between_portals_does_not() {
    let (store, _dir) = rebuilt(true);
    salesiq_session::conformance::run(&store).await;
}
