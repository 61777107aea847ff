//! The tabs of one user in one browser share a database; one of them leads (it alone holds
//! the socket and pushes the outbox). [`TabGroup`] decides this tab's part: what it tells the
//! others, what it does with what they tell it, and what taking the lead starts. The driver
//! carries messages (a BroadcastChannel) and leadership (a Web Lock) and does what it is told.

use crate::sorted::SortedSet;

/// What one tab tells the others; the payloads (events, connection info, presence) stay with
/// the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabMessageKind {
    /// An event of the sending tab, of this `type`.
    Event,
    /// A tab appended to the outbox or changed conflicts.
    Outbox,
    /// A tab changed unread marks or the feed.
    Marks,
    /// The leader's connection.
    Info,
    /// A tab joined the group.
    Hello,
    /// A fresh access token.
    Token,
    /// What a tab that does not lead wants shown to a band's members online.
    Presence,
    /// What a tab that does not lead asks the leader to carry out.
    Command,
    /// The user signed out in another tab.
    SignedOut,
}

/// What this tab does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabAction {
    /// Post this tab's event to the others.
    Relay,
    /// Post this tab's connection (it leads) to the others.
    PostInfo,
    /// Post each followed band's members online to the others.
    PostPresence,
    /// Deliver the received event to this tab's listeners.
    Deliver,
    /// Re-read the outbox first (this tab's row statuses come from its copy), then deliver.
    ReloadThenDeliver,
    /// Keep the members online the received presence event carries.
    RememberPresence,
    /// Re-read the stored outbox; when done, call [`TabGroup::outbox_reloaded`].
    ReloadOutbox,
    /// Re-read the unread marks and the feed.
    ReloadMarks,
    /// Keep the leader's connection for this tab's `connectionInfo`.
    RememberInfo,
    /// Use the received token.
    UseToken,
    /// Show the received presence to the band's members online.
    ShowPresence,
    /// Carry out the received command.
    RunCommand,
    /// Close: the user signed out.
    SignOut,
    /// Push the outbox from now on.
    Push,
    /// Follow this band live.
    FollowBand(String),
    /// Follow the user's bands live.
    Connect,
    /// Tell the app this tab leads now.
    AnnounceLead,
}

/// Events each tab computes for itself, never relayed.
const LOCAL_ONLY: &[&str] = &["unread", "storage", "leader"];

/// Events after which the leader tells the others about its connection (a settled push moves
/// the last-synced time).
const CONNECTION_NEWS: &[&str] = &[
    "connection",
    "latency",
    "bands",
    "channelError",
    "syncStatus",
];

/// Events whose meaning depends on this tab's copy of the outbox.
const OUTBOX_NEWS: &[&str] = &["syncStatus", "conflict"];

/// This tab's part in the group.
#[derive(Debug, Default)]
pub struct TabGroup {
    leader: bool,
    wants_connect: bool,
    wants_bands: SortedSet<String>,
    reloading: bool,
    reload_again: bool,
}

impl TabGroup {
    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The app wants to be live: true if this tab leads and goes live now (else it does when
    /// it takes the lead).
    pub fn want_connect(&mut self) -> bool {
        self.wants_connect = true;
        self.leader
    }

    /// The app follows a band: true if this tab leads and follows it now.
    pub fn want_band(&mut self, band: &str) -> bool {
        self.wants_bands.insert(band.to_owned());
        self.leader
    }

    /// A command of the app: true if another tab leads and must be asked to carry it out.
    pub fn ask_leader(&self) -> bool {
        !self.leader
    }

    /// This tab emitted an event of `kind`.
    pub fn emitted(&self, kind: &str) -> Vec<TabAction> {
        if LOCAL_ONLY.contains(&kind) {
            return Vec::new();
        }
        let mut actions = vec![TabAction::Relay];
        if self.leader && CONNECTION_NEWS.contains(&kind) {
            actions.push(TabAction::PostInfo);
        }
        actions
    }

    /// This tab took the lead: it pushes, follows what the app asked for, and says so.
    pub fn take_lead(&mut self) -> Vec<TabAction> {
        self.leader = true;
        let mut actions = vec![TabAction::Push];
        for band in &self.wants_bands {
            actions.push(TabAction::FollowBand(band.clone()));
        }
        if self.wants_connect {
            actions.push(TabAction::Connect);
        }
        actions.extend([TabAction::AnnounceLead, TabAction::PostInfo]);
        actions
    }

    /// This tab left the group (it closes).
    pub fn leave(&mut self) {
        self.leader = false;
    }

    /// Another tab said something; `event_kind` is the `type` of a relayed event.
    pub fn received(&mut self, kind: TabMessageKind, event_kind: Option<&str>) -> Vec<TabAction> {
        let leader = self.leader;
        match kind {
            TabMessageKind::Event => {
                let event_kind = event_kind.unwrap_or_default();
                let mut actions = Vec::new();
                if event_kind == "presence" {
                    actions.push(TabAction::RememberPresence);
                }
                actions.push(match !leader && OUTBOX_NEWS.contains(&event_kind) {
                    true => TabAction::ReloadThenDeliver,
                    false => TabAction::Deliver,
                });
                actions
            }
            TabMessageKind::Outbox if leader => self.reload_outbox(),
            TabMessageKind::Marks => vec![TabAction::ReloadMarks],
            TabMessageKind::Info if !leader => vec![TabAction::RememberInfo],
            TabMessageKind::Hello if leader => vec![TabAction::PostInfo, TabAction::PostPresence],
            TabMessageKind::Token => vec![TabAction::UseToken],
            TabMessageKind::Presence if leader => vec![TabAction::ShowPresence],
            TabMessageKind::Command if leader => vec![TabAction::RunCommand],
            TabMessageKind::SignedOut => vec![TabAction::SignOut],
            _ => Vec::new(),
        }
    }

    /// Re-reads the outbox once at a time, however many messages ask for it.
    fn reload_outbox(&mut self) -> Vec<TabAction> {
        if self.reloading {
            self.reload_again = true;
            return Vec::new();
        }
        self.reloading = true;
        vec![TabAction::ReloadOutbox]
    }

    /// A reload of the outbox finished: another, if one was asked for meanwhile.
    pub fn outbox_reloaded(&mut self) -> Vec<TabAction> {
        self.reloading = false;
        match std::mem::take(&mut self.reload_again) {
            true => self.reload_outbox(),
            false => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_relays_and_posts_its_connection_a_follower_only_relays() {
        let mut tabs = TabGroup::default();
        assert_eq!(tabs.emitted("unread"), [], "computed by every tab itself");
        assert_eq!(tabs.emitted("connection"), [TabAction::Relay]);
        tabs.take_lead();
        let actions = tabs.emitted("connection");
        assert_eq!(actions, [TabAction::Relay, TabAction::PostInfo]);
    }

    #[test]
    fn taking_the_lead_starts_what_the_app_asked_for() {
        let mut tabs = TabGroup::default();
        assert!(!tabs.want_band("b1"), "a follower only remembers");
        assert!(!tabs.want_connect());
        let actions = tabs.take_lead();
        assert_eq!(
            actions,
            [
                TabAction::Push,
                TabAction::FollowBand("b1".into()),
                TabAction::Connect,
                TabAction::AnnounceLead,
                TabAction::PostInfo
            ]
        );
        assert!(tabs.want_band("b2"), "the leader follows at once");
    }

    #[test]
    fn outbox_news_is_taken_in_once_at_a_time_by_the_leader_only() {
        let mut tabs = TabGroup::default();
        assert_eq!(tabs.received(TabMessageKind::Outbox, None), []);
        tabs.take_lead();
        let outbox = TabMessageKind::Outbox;
        assert_eq!(tabs.received(outbox, None), [TabAction::ReloadOutbox]);
        assert_eq!(tabs.received(outbox, None), [], "one reload at a time");
        assert_eq!(tabs.received(outbox, None), []);
        assert_eq!(
            tabs.outbox_reloaded(),
            [TabAction::ReloadOutbox],
            "then one more"
        );
        assert_eq!(tabs.outbox_reloaded(), []);
    }

    #[test]
    fn a_follower_brings_its_outbox_up_to_date_before_telling_statuses() {
        let mut tabs = TabGroup::default();
        let event = TabMessageKind::Event;
        let status = tabs.received(event, Some("syncStatus"));
        assert_eq!(status, [TabAction::ReloadThenDeliver]);
        let presence = tabs.received(event, Some("presence"));
        assert_eq!(presence, [TabAction::RememberPresence, TabAction::Deliver]);
        tabs.take_lead();
        assert_eq!(
            tabs.received(event, Some("syncStatus")),
            [TabAction::Deliver]
        );
        let commands = tabs.received(TabMessageKind::Command, None);
        assert_eq!(
            commands,
            [TabAction::RunCommand],
            "the leader carries out commands"
        );
    }
}
