//! Who is offered which waiting chat (issue 15): capacity, "taking
//! chats", and the department's routing, decided in one place for all
//! chats of a node, so that the oldest request is served first.
//!
//! The rules:
//! * An operator **takes chats** while one of their devices says so
//!   ([`Availability::Taking`]: XMPP presence `chat` or plain available)
//!   and they were not paused for letting offers pass. `away`, `xa` and
//!   `dnd` ([`Availability::NotTaking`]) keep them present (colleagues
//!   and `#m` see them) but offered nothing. An operator who stops taking
//!   has their open offers withdrawn: the chats go to others.
//! * **Capacity**: an operator is never offered more chats than they have
//!   room for: their chats (as the operator or a guest) plus their open
//!   offers stay within their limit ([`crate::Operator::max_chats`], else
//!   [`crate::Portal::max_chats_per_operator`]), and within
//!   [`super::MAX_OFFERS_PER_DEVICE`] open offers. An operator at capacity
//!   still counts as present: visitors queue for them.
//! * **First come, first served**: whenever anything changes (a request,
//!   an answer, an end, a presence, a timeout), the waiting chats of the
//!   portal are offered oldest first, so a newer request never takes the
//!   room an older one could have had.
//! * **Routing** per department ([`Routing`]): broadcast offers a chat to
//!   everyone taking chats with room (the first `y` wins); round robin
//!   and least busy offer it to one operator at a time, for the
//!   department's offer timeout, then to the next (round robin: the next
//!   username after the last one offered in the department; least busy:
//!   the fewest chats and offers, then the one offered a chat longest
//!   ago). When everyone with room has let it pass, the round starts
//!   again. An operator who lets offers time out twice in a row is paused
//!   (not taking chats) until a device of theirs says it takes chats
//!   again; answering `y` or `n` resets the count.
//! * **Queue position**: a waiting chat's position is 1 plus the number of
//!   older waiting chats of the same portal and department.
//! * Transfers and invitations are an operator's explicit choice: they
//!   ignore capacity (the one asked answers `y` or `n`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::contact::{DeviceId, OperatorRef};
use crate::model::{ChatId, DepartmentId, Routing};

/// What one device of an operator says of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Availability {
    /// Gone (offline, or presence `unavailable`).
    Unavailable,
    /// Present but not taking chats: XMPP `away`, `xa`, `dnd`.
    NotTaking,
    /// Present and taking chats: XMPP `chat` or plain available.
    Taking,
}

/// How many offers in a row an operator may let time out before they
/// are paused (set to not taking chats).
pub(super) const MISSES_BEFORE_PAUSE: u8 = 2;

/// A portal's capacity settings, as the store last said.
#[derive(Debug, Clone, Default)]
pub(super) struct Capacity {
    /// The portal's default limit.
    pub(super) default: u32,
    /// Operators with a limit of their own, by username (lower case).
    pub(super) own: HashMap<String, u32>,
    /// When the store was read.
    pub(super) read_at: Option<Instant>,
}

/// One operator as routing sees them.
#[derive(Debug, Default)]
struct Seat {
    /// Their present devices, and whether each takes chats.
    devices: BTreeMap<DeviceId, bool>,
    /// The chats they are in (as the operator or a guest).
    load: usize,
    /// Their open offers.
    offers: usize,
    /// Offers in a row they let time out.
    misses: u8,
    /// Paused for letting offers pass, until a device says "taking".
    paused: bool,
    /// When (in dispatch turns) they were last offered a chat.
    last_offer: u64,
}

impl Seat {
    fn taking(&self) -> bool {
        !self.paused && self.devices.values().any(|taking| *taking)
    }
}

/// A chat nobody has accepted yet.
#[derive(Debug)]
pub(super) struct Waiting {
    pub(super) portal: String,
    pub(super) department: Option<DepartmentId>,
    /// Who may be offered it: the department's operators, `None` for
    /// every operator of the portal.
    pub(super) eligible: Option<HashSet<OperatorRef>>,
    pub(super) routing: Routing,
    pub(super) offer_timeout: Duration,
    /// Who is offered it now, each with the deadline of a one-at-a-time
    /// offer.
    offered: BTreeMap<OperatorRef, Option<Instant>>,
    /// Who let it pass in this round (one at a time only).
    passed: HashSet<OperatorRef>,
    /// Who declined it: never offered it again.
    declined: HashSet<OperatorRef>,
    /// Its place in the queue, 1 = next.
    position: usize,
}

impl Waiting {
    /// A waiting chat of `portal`.
    pub(super) fn new(
        portal: &str,
        department: Option<DepartmentId>,
        eligible: Option<HashSet<OperatorRef>>,
        routing: Routing,
        offer_timeout: Duration,
    ) -> Self {
        Self {
            portal: portal.to_owned(),
            department,
            eligible,
            routing,
            offer_timeout,
            offered: BTreeMap::new(),
            passed: HashSet::new(),
            declined: HashSet::new(),
            position: 0,
        }
    }

    fn one_at_a_time(&self) -> bool {
        self.routing != Routing::Broadcast
    }
}

/// What a waiting chat's task is to show: who is offered it (with the
/// devices to show it on), when the one-at-a-time offer runs out, and its
/// queue position.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct OfferView {
    pub(super) offered: Vec<(OperatorRef, Vec<DeviceId>)>,
    pub(super) deadline: Option<Instant>,
    pub(super) position: usize,
}

/// The routing state of one node.
#[derive(Debug, Default)]
pub(crate) struct Router {
    seats: HashMap<String, BTreeMap<OperatorRef, Seat>>,
    waiting: HashMap<String, BTreeMap<ChatId, Waiting>>,
    portal_of: HashMap<ChatId, String>,
    /// The members of each chat, counted in their seats' load.
    members: HashMap<ChatId, Vec<OperatorRef>>,
    /// Round robin: the last operator offered a chat, per portal and
    /// department.
    cursors: HashMap<(String, Option<DepartmentId>), OperatorRef>,
    capacity: HashMap<String, Capacity>,
    /// Dispatch turns, for "offered longest ago".
    turn: u64,
    /// Chats whose view changed since the last [`Router::take_dirty`].
    dirty: BTreeSet<ChatId>,
}

impl Router {
    /// The seat of `operator`, if routing knows them.
    fn seat_of(&self, operator: &OperatorRef) -> Option<&Seat> {
        self.seats.get(operator.portal())?.get(operator)
    }

    fn seat(&mut self, operator: &OperatorRef) -> &mut Seat {
        self.seats
            .entry(operator.portal().to_owned())
            .or_default()
            .entry(operator.clone())
            .or_default()
    }

    /// Records what one device says; whether the operator's taking
    /// changed. A device that says it takes chats lifts a pause.
    pub(super) fn presence(
        &mut self,
        operator: &OperatorRef,
        device: DeviceId,
        availability: Availability,
    ) -> bool {
        let seat = self.seat(operator);
        let before = seat.taking();
        match availability {
            Availability::Unavailable => {
                seat.devices.remove(&device);
            }
            Availability::NotTaking => {
                seat.devices.insert(device, false);
            }
            Availability::Taking => {
                seat.devices.insert(device, true);
                seat.paused = false;
                seat.misses = 0;
            }
        }
        let after = seat.taking();
        if !after {
            self.withdraw_all(operator);
        }
        self.forget_idle(operator);
        before != after
    }

    /// Drops the seat of an operator with no device, chat or offer.
    fn forget_idle(&mut self, operator: &OperatorRef) {
        let Some(seats) = self.seats.get_mut(operator.portal()) else {
            return;
        };
        if seats
            .get(operator)
            .is_some_and(|s| s.devices.is_empty() && s.load == 0 && s.offers == 0 && !s.paused)
        {
            seats.remove(operator);
            if seats.is_empty() {
                self.seats.remove(operator.portal());
            }
        }
    }

    /// Withdraws every open offer of `operator`.
    fn withdraw_all(&mut self, operator: &OperatorRef) {
        let mut withdrawn = 0;
        if let Some(waiting) = self.waiting.get_mut(operator.portal()) {
            for (chat, w) in waiting.iter_mut() {
                if w.offered.remove(operator).is_some() {
                    withdrawn += 1;
                    self.dirty.insert(*chat);
                }
            }
        }
        if withdrawn > 0 {
            let seat = self.seat(operator);
            seat.offers = seat.offers.saturating_sub(withdrawn);
        }
    }

    /// Whether any device of `operator` is present.
    pub(super) fn is_present(&self, operator: &OperatorRef) -> bool {
        self.seat_of(operator)
            .is_some_and(|s| !s.devices.is_empty())
    }

    /// Whether `operator` takes chats.
    pub(super) fn is_taking(&self, operator: &OperatorRef) -> bool {
        self.seat_of(operator).is_some_and(Seat::taking)
    }

    /// The present operators of `portal` (among `eligible`), with their
    /// present devices; only those taking chats if `taking`.
    pub(super) fn present(
        &self,
        portal: &str,
        eligible: Option<&HashSet<OperatorRef>>,
        taking: bool,
    ) -> Vec<(OperatorRef, Vec<DeviceId>)> {
        let Some(seats) = self.seats.get(portal) else {
            return Vec::new();
        };
        seats
            .iter()
            .filter(|(o, s)| {
                !s.devices.is_empty()
                    && (!taking || s.taking())
                    && eligible.is_none_or(|e| e.contains(*o))
            })
            .map(|(o, s)| (o.clone(), s.devices.keys().copied().collect()))
            .collect()
    }

    /// The devices of `operator` that are present.
    fn devices(&self, operator: &OperatorRef) -> Vec<DeviceId> {
        self.seat_of(operator)
            .map(|s| s.devices.keys().copied().collect())
            .unwrap_or_default()
    }

    /// What the store says of a portal's capacity.
    pub(super) fn set_capacity(&mut self, portal: &str, capacity: Capacity) {
        self.capacity.insert(portal.to_owned(), capacity);
    }

    /// When a portal's capacity was last read, if ever.
    pub(super) fn capacity_read_at(&self, portal: &str) -> Option<Instant> {
        self.capacity.get(portal).and_then(|c| c.read_at)
    }

    fn limit(&self, operator: &OperatorRef) -> usize {
        let limit = match self.capacity.get(operator.portal()) {
            Some(capacity) => capacity
                .own
                .get(operator.username())
                .copied()
                .unwrap_or(capacity.default),
            None => crate::model::DEFAULT_MAX_CHATS,
        };
        usize::try_from(limit).unwrap_or(usize::MAX)
    }

    /// Room for one more offer: within the operator's limit and the
    /// bound on open offers.
    fn room(&self, operator: &OperatorRef, seat: &Seat) -> usize {
        let by_limit = self.limit(operator).saturating_sub(seat.load + seat.offers);
        by_limit.min(super::MAX_OFFERS_PER_DEVICE.saturating_sub(seat.offers))
    }

    /// A chat starts waiting.
    pub(super) fn enqueue(&mut self, chat: ChatId, waiting: Waiting) {
        self.portal_of.insert(chat, waiting.portal.clone());
        self.waiting
            .entry(waiting.portal.clone())
            .or_default()
            .insert(chat, waiting);
        self.dirty.insert(chat);
    }

    /// A chat waits no more (it was accepted, ended, or given up): its
    /// offers are withdrawn.
    pub(super) fn dequeue(&mut self, chat: ChatId) {
        let Some(portal) = self.portal_of.remove(&chat) else {
            return;
        };
        let Some(waiting) = self.waiting.get_mut(&portal) else {
            return;
        };
        let Some(removed) = waiting.remove(&chat) else {
            return;
        };
        if waiting.is_empty() {
            self.waiting.remove(&portal);
        }
        for operator in removed.offered.keys() {
            let seat = self.seat(operator);
            seat.offers = seat.offers.saturating_sub(1);
            self.forget_idle(operator);
        }
    }

    /// `operator` accepted `chat`: one offer less, one chat more, at once
    /// (their room is never counted twice free).
    pub(super) fn accepted(&mut self, chat: ChatId, operator: &OperatorRef) {
        self.dequeue(chat);
        self.seat(operator).misses = 0;
        let mut members = self.members.get(&chat).cloned().unwrap_or_default();
        if !members.contains(operator) {
            members.push(operator.clone());
        }
        self.set_members(chat, members);
    }

    /// `operator` declined `chat`: never offered it again.
    pub(super) fn declined(&mut self, chat: ChatId, operator: &OperatorRef) {
        let Some(waiting) = self.waiting_mut(chat) else {
            return;
        };
        waiting.declined.insert(operator.clone());
        let was_offered = waiting.offered.remove(operator).is_some();
        let seat = self.seat(operator);
        seat.misses = 0;
        if was_offered {
            seat.offers = seat.offers.saturating_sub(1);
        }
        self.dirty.insert(chat);
    }

    /// The offers of `chat` that ran out by `now`: withdrawn, each
    /// operator with whether they are paused now (a second miss in a row).
    pub(super) fn expire(&mut self, chat: ChatId, now: Instant) -> Vec<(OperatorRef, bool)> {
        let Some(waiting) = self.waiting_mut(chat) else {
            return Vec::new();
        };
        let expired: Vec<OperatorRef> = waiting
            .offered
            .iter()
            .filter(|(_, deadline)| deadline.is_some_and(|d| d <= now))
            .map(|(o, _)| o.clone())
            .collect();
        for operator in &expired {
            waiting.offered.remove(operator);
            waiting.passed.insert(operator.clone());
        }
        let mut told = Vec::new();
        for operator in expired {
            let seat = self.seat(&operator);
            seat.offers = seat.offers.saturating_sub(1);
            seat.misses = seat.misses.saturating_add(1);
            let paused = seat.misses >= MISSES_BEFORE_PAUSE && !seat.paused;
            if paused {
                seat.paused = true;
                self.withdraw_all(&operator);
            }
            told.push((operator, paused));
        }
        self.dirty.insert(chat);
        told
    }

    fn waiting_mut(&mut self, chat: ChatId) -> Option<&mut Waiting> {
        let portal = self.portal_of.get(&chat)?;
        self.waiting.get_mut(portal)?.get_mut(&chat)
    }

    /// The members of `chat` now (none once it ended): their load.
    pub(super) fn set_members(&mut self, chat: ChatId, members: Vec<OperatorRef>) {
        let before = if members.is_empty() {
            self.members.remove(&chat).unwrap_or_default()
        } else {
            self.members
                .insert(chat, members.clone())
                .unwrap_or_default()
        };
        if before == members {
            return;
        }
        for operator in &before {
            if !members.contains(operator) {
                let seat = self.seat(operator);
                seat.load = seat.load.saturating_sub(1);
                self.forget_idle(operator);
            }
        }
        for operator in &members {
            if !before.contains(operator) {
                self.seat(operator).load += 1;
            }
        }
    }

    /// How many chats `operator` is in.
    pub(super) fn load(&self, operator: &OperatorRef) -> usize {
        self.seat_of(operator).map_or(0, |s| s.load)
    }

    /// Offers the waiting chats of `portal`, oldest first, to whoever has
    /// room, by each chat's routing; updates queue positions.
    pub(super) fn dispatch(&mut self, portal: &str, now: Instant) {
        let Some(mut waiting) = self.waiting.remove(portal) else {
            return;
        };
        // Who has room, and how much: decremented as offers go out.
        let mut room: BTreeMap<OperatorRef, usize> = BTreeMap::new();
        if let Some(seats) = self.seats.get(portal) {
            for (operator, seat) in seats {
                let free = if seat.taking() {
                    self.room(operator, seat)
                } else {
                    0
                };
                if free > 0 {
                    room.insert(operator.clone(), free);
                }
            }
        }
        let mut queues: HashMap<Option<DepartmentId>, usize> = HashMap::new();
        for (chat, w) in waiting.iter_mut() {
            let position = queues.entry(w.department).or_default();
            *position += 1;
            if w.position != *position {
                w.position = *position;
                self.dirty.insert(*chat);
            }
            if room.is_empty() {
                continue;
            }
            let candidates: Vec<OperatorRef> = room
                .keys()
                .filter(|o| {
                    w.eligible.as_ref().is_none_or(|e| e.contains(*o))
                        && !w.declined.contains(*o)
                        && !w.offered.contains_key(*o)
                })
                .cloned()
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let chosen: Vec<OperatorRef> = if !w.one_at_a_time() {
                candidates
            } else if !w.offered.is_empty() {
                Vec::new()
            } else {
                let fresh: Vec<&OperatorRef> = candidates
                    .iter()
                    .filter(|o| !w.passed.contains(*o))
                    .collect();
                let fresh = if fresh.is_empty() {
                    // Everyone with room let it pass: another round.
                    w.passed.clear();
                    candidates.iter().collect()
                } else {
                    fresh
                };
                let key = (portal.to_owned(), w.department);
                let pick = match w.routing {
                    Routing::RoundRobin => {
                        let cursor = self.cursors.get(&key);
                        fresh
                            .iter()
                            .find(|o| cursor.is_none_or(|c| **o > c))
                            .or_else(|| fresh.first())
                            .map(|o| (*o).clone())
                    }
                    _ => fresh
                        .iter()
                        .min_by_key(|o| {
                            let seat = self.seats.get(portal).and_then(|s| s.get(**o));
                            seat.map_or((0, 0), |s| (s.load + s.offers, s.last_offer))
                        })
                        .map(|o| (*o).clone()),
                };
                if let Some(pick) = &pick {
                    self.cursors.insert(key, pick.clone());
                }
                pick.into_iter().collect()
            };
            if chosen.is_empty() {
                continue;
            }
            let deadline = w.one_at_a_time().then(|| now + w.offer_timeout);
            self.turn += 1;
            for operator in chosen {
                w.offered.insert(operator.clone(), deadline);
                if let Some(free) = room.get_mut(&operator) {
                    *free -= 1;
                    if *free == 0 {
                        room.remove(&operator);
                    }
                }
                let turn = self.turn;
                let seat = self.seat(&operator);
                seat.offers += 1;
                seat.last_offer = turn;
            }
            self.dirty.insert(*chat);
        }
        self.waiting.insert(portal.to_owned(), waiting);
    }

    /// What `chat`'s task is to show, if it waits.
    pub(super) fn view(&self, chat: ChatId) -> Option<OfferView> {
        let portal = self.portal_of.get(&chat)?;
        let waiting = self.waiting.get(portal)?.get(&chat)?;
        Some(OfferView {
            offered: waiting
                .offered
                .keys()
                .map(|o| (o.clone(), self.devices(o)))
                .collect(),
            deadline: waiting.offered.values().flatten().min().copied(),
            position: waiting.position,
        })
    }

    /// The chats whose view changed since the last call.
    pub(super) fn take_dirty(&mut self) -> BTreeSet<ChatId> {
        std::mem::take(&mut self.dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> OperatorRef {
        OperatorRef::new("p", name)
    }

    fn router(default: u32) -> Router {
        let mut router = Router::default();
        router.set_capacity(
            "p",
            Capacity {
                default,
                own: HashMap::new(),
                read_at: None,
            },
        );
        router
    }

    fn broadcast() -> Waiting {
        Waiting::new("p", None, None, Routing::Broadcast, Duration::from_secs(30))
    }

    fn one_at_a_time(routing: Routing) -> Waiting {
        Waiting::new("p", None, None, routing, Duration::from_secs(30))
    }

    fn offered(router: &Router, chat: i64) -> Vec<String> {
        router
            .view(ChatId(chat))
            .map(|v| {
                v.offered
                    .into_iter()
                    .map(|(o, _)| o.username().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn an_operator_is_offered_no_more_than_they_have_room_for_oldest_first() {
        let mut r = router(2);
        let now = Instant::now();
        r.presence(&op("ann"), DeviceId(1), Availability::Taking);
        for chat in 1..=3 {
            r.enqueue(ChatId(chat), broadcast());
        }
        r.dispatch("p", now);
        assert_eq!(offered(&r, 1), ["ann"]);
        assert_eq!(offered(&r, 2), ["ann"]);
        assert!(offered(&r, 3).is_empty(), "no room for a third");
        // Ann takes the second: she is at capacity with one open offer.
        r.accepted(ChatId(2), &op("ann"));
        r.set_members(ChatId(2), vec![op("ann")]);
        r.dispatch("p", now);
        assert_eq!(offered(&r, 1), ["ann"]);
        assert!(offered(&r, 3).is_empty());
        // The first chat ends unanswered: her room goes to the third.
        r.dequeue(ChatId(1));
        r.dispatch("p", now);
        assert_eq!(offered(&r, 3), ["ann"]);
        assert_eq!(r.view(ChatId(3)).map(|v| v.position), Some(1));
    }

    #[test]
    fn away_is_present_but_not_taking_and_withdraws_offers() {
        let mut r = router(5);
        let now = Instant::now();
        r.presence(&op("ann"), DeviceId(1), Availability::Taking);
        r.enqueue(ChatId(1), broadcast());
        r.dispatch("p", now);
        assert_eq!(offered(&r, 1), ["ann"]);
        r.take_dirty();
        assert!(r.presence(&op("ann"), DeviceId(1), Availability::NotTaking));
        assert!(r.is_present(&op("ann")) && !r.is_taking(&op("ann")));
        assert!(offered(&r, 1).is_empty(), "the offer is withdrawn");
        assert!(r.take_dirty().contains(&ChatId(1)));
        r.dispatch("p", now);
        assert!(offered(&r, 1).is_empty());
        // A second device that takes chats makes her taking again.
        r.presence(&op("ann"), DeviceId(2), Availability::Taking);
        r.dispatch("p", now);
        assert_eq!(offered(&r, 1), ["ann"]);
        let view = r.view(ChatId(1)).expect("waits");
        assert_eq!(
            view.offered[0].1,
            [DeviceId(1), DeviceId(2)],
            "every device"
        );
    }

    #[test]
    fn round_robin_offers_one_at_a_time_in_turn_and_pauses_after_two_misses() {
        let mut r = router(5);
        let start = Instant::now();
        for name in ["ann", "bob", "cat"] {
            r.presence(&op(name), DeviceId(1), Availability::Taking);
        }
        r.enqueue(ChatId(1), one_at_a_time(Routing::RoundRobin));
        r.dispatch("p", start);
        assert_eq!(offered(&r, 1), ["ann"]);
        let deadline = r.view(ChatId(1)).and_then(|v| v.deadline);
        assert_eq!(deadline, Some(start + Duration::from_secs(30)));
        r.enqueue(ChatId(2), one_at_a_time(Routing::RoundRobin));
        r.dispatch("p", start);
        assert_eq!(offered(&r, 2), ["bob"], "the next in turn");
        // Ann lets it pass: Cat is next (Bob's turn was taken).
        let later = start + Duration::from_secs(30);
        assert_eq!(r.expire(ChatId(1), later), [(op("ann"), false)]);
        r.dispatch("p", later);
        assert_eq!(offered(&r, 1), ["cat"]);
        r.accepted(ChatId(1), &op("cat"));
        r.set_members(ChatId(1), vec![op("cat")]);
        // Ann misses a second in a row: paused.
        r.enqueue(ChatId(3), one_at_a_time(Routing::RoundRobin));
        r.dispatch("p", later);
        assert_eq!(offered(&r, 3), ["ann"]);
        let end = later + Duration::from_secs(30);
        assert_eq!(r.expire(ChatId(3), end), [(op("ann"), true)]);
        assert!(!r.is_taking(&op("ann")) && r.is_present(&op("ann")));
        r.dispatch("p", end);
        assert_eq!(offered(&r, 3), ["bob"], "the next after Ann");
        // Saying "taking" again lifts the pause.
        r.presence(&op("ann"), DeviceId(1), Availability::Taking);
        assert!(r.is_taking(&op("ann")));
    }

    #[test]
    fn least_busy_picks_the_fewest_chats() {
        let mut r = router(5);
        let now = Instant::now();
        for name in ["ann", "bob"] {
            r.presence(&op(name), DeviceId(1), Availability::Taking);
        }
        r.set_members(ChatId(10), vec![op("ann")]);
        r.enqueue(ChatId(1), one_at_a_time(Routing::LeastBusy));
        r.dispatch("p", now);
        assert_eq!(offered(&r, 1), ["bob"]);
        r.enqueue(ChatId(2), one_at_a_time(Routing::LeastBusy));
        r.dispatch("p", now);
        // Bob has one offer and Ann one chat: Ann was offered longest ago.
        assert_eq!(offered(&r, 2), ["ann"]);
    }

    #[test]
    fn a_lone_operator_who_lets_it_pass_is_asked_again_then_paused() {
        let mut r = router(5);
        let start = Instant::now();
        r.presence(&op("ann"), DeviceId(1), Availability::Taking);
        r.enqueue(ChatId(1), one_at_a_time(Routing::RoundRobin));
        r.dispatch("p", start);
        let t1 = start + Duration::from_secs(30);
        r.expire(ChatId(1), t1);
        r.dispatch("p", t1);
        assert_eq!(offered(&r, 1), ["ann"], "a new round");
        let t2 = t1 + Duration::from_secs(30);
        assert_eq!(r.expire(ChatId(1), t2), [(op("ann"), true)]);
        r.dispatch("p", t2);
        assert!(offered(&r, 1).is_empty(), "nobody takes chats now");
    }

    #[test]
    fn declines_are_final_and_departments_queue_apart() {
        let mut r = router(5);
        let now = Instant::now();
        r.presence(&op("ann"), DeviceId(1), Availability::Taking);
        let desk = Some(DepartmentId(7));
        let only_bob: HashSet<OperatorRef> = [op("bob")].into();
        r.enqueue(
            ChatId(1),
            Waiting::new(
                "p",
                desk,
                Some(only_bob),
                Routing::Broadcast,
                Duration::ZERO,
            ),
        );
        r.enqueue(ChatId(2), broadcast());
        r.enqueue(ChatId(3), broadcast());
        r.dispatch("p", now);
        assert!(offered(&r, 1).is_empty(), "Ann is not of the department");
        assert_eq!(r.view(ChatId(1)).map(|v| v.position), Some(1));
        assert_eq!(r.view(ChatId(3)).map(|v| v.position), Some(2));
        r.declined(ChatId(2), &op("ann"));
        r.dispatch("p", now);
        assert!(offered(&r, 2).is_empty(), "never again");
        assert_eq!(offered(&r, 3), ["ann"]);
    }

    #[test]
    fn an_operators_own_limit_wins_and_transfers_count_as_load() {
        let mut r = Router::default();
        r.set_capacity(
            "p",
            Capacity {
                default: 5,
                own: [("ann".to_owned(), 1)].into(),
                read_at: None,
            },
        );
        let now = Instant::now();
        r.presence(&op("ann"), DeviceId(1), Availability::Taking);
        r.set_members(ChatId(9), vec![op("bob"), op("ann")]);
        r.enqueue(ChatId(1), broadcast());
        r.dispatch("p", now);
        assert!(offered(&r, 1).is_empty(), "a guest's chat counts");
        r.set_members(ChatId(9), vec![op("bob")]);
        r.dispatch("p", now);
        assert_eq!(offered(&r, 1), ["ann"]);
        assert_eq!((r.load(&op("ann")), r.load(&op("bob"))), (0, 1));
    }
}
