//! Users and access control, as Redis 7.0's ACL.
//!
//! [`user`] holds one user's rules and their texts, [`log`] the ACL LOG,
//! [`file`] the `aclfile` and `user` config lines. [`Acl`] is the registry
//! every connection consults: the gate ([`check`]) runs after the NOAUTH
//! check and before anything else looks at the command, so a denied command
//! is refused with Redis's NOPERM text and logged.
//!
//! Cost on the hot path: a client caches its user with the registry's
//! generation number; one atomic load tells whether the cache is current,
//! and an unrestricted user (`~* &* +@all`, the default) skips every other
//! check.

pub mod file;
pub mod log;
pub mod user;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

pub use log::{AclLog, Reason};
pub use user::User;

use crate::cmd::spec::Channels;
use crate::cmd::{Args, CommandSpec, CommandTable, flag};
use crate::config::Config;
use crate::server::{Client, Server};

/// The users, the ACL log, and what the default user's password last came from.
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// Bumped on every change, so clients refresh their cached user.
    generation: AtomicU64,
    pub log: Mutex<AclLog>,
    /// The `requirepass` last applied to the default user, so CONFIG SET
    /// changes it and other CONFIG SETs leave ACL SETUSER's work alone.
    applied_requirepass: Mutex<Option<Vec<u8>>>,
}

/// What a denied command tripped on, and the argument that did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    pub reason: Reason,
    /// Argument index of the key or channel (0 for a command denial).
    pub pos: usize,
}

impl Denied {
    /// Redis's NOPERM reply for this denial.
    pub fn message(&self, table: &CommandTable, id: usize) -> String {
        match self.reason {
            Reason::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                table.full_name(id)
            ),
            Reason::Key => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            _ => "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into(),
        }
    }

    /// The ACL DRYRUN wording.
    pub fn dryrun_message(&self, table: &CommandTable, id: usize, args: &Args) -> String {
        let object = String::from_utf8_lossy(args.get(self.pos));
        match self.reason {
            Reason::Command => format!(
                "This user has no permissions to run the '{}' command",
                table.full_name(id)
            ),
            Reason::Key => format!("This user has no permissions to access the '{object}' key"),
            _ => format!("This user has no permissions to access the '{object}' channel"),
        }
    }
}

impl Denied {
    /// The reason in a script's error: `ERR The user executing the script ...`.
    pub fn script_message(&self) -> &'static str {
        match self.reason {
            Reason::Command => {
                "ERR The user executing the script can't run this command or subcommand"
            }
            Reason::Key => {
                "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
            }
            _ => {
                "ERR The user executing the script can't publish to the channel mentioned in the command"
            }
        }
    }

    /// The reason EXEC gives for a queued command the ACL now denies.
    pub fn exec_message(&self) -> String {
        let reason = match self.reason {
            Reason::Command => "no permission to execute the command or subcommand",
            Reason::Key => "no permission to touch the specified keys",
            _ => "no permission to access one of the channels used as arguments",
        };
        format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"
        )
    }
}

/// `acl-pubsub-default allchannels`: new users may use every channel.
pub fn pubsub_default_all(config: &Config) -> bool {
    config.value("acl-pubsub-default").as_deref() == Some("allchannels")
}

impl Acl {
    /// The users of a starting server: the default user with `requirepass`,
    /// then either the config's `user` lines or the `aclfile` (not both).
    pub fn new(table: &CommandTable, config: &Config) -> Result<Acl, String> {
        let mut default = User::default_user(table);
        set_password(&mut default, config.requirepass.as_deref(), table);
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), default);
        let aclfile = config.value("aclfile").unwrap_or_default();
        if !aclfile.is_empty() && !config.users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        let all_channels = pubsub_default_all(config);
        for line in &config.users {
            file::apply_user_line(&mut users, line, table, all_channels).map_err(
                |(rule, why)| {
                    format!(
                        "Error loading ACL rule '{rule}' for the user named '{}': {why}",
                        line[0]
                    )
                },
            )?;
        }
        if !aclfile.is_empty() {
            users = file::load(&aclfile, users, table, all_channels)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
        }
        Ok(Acl {
            users: RwLock::new(users.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()),
            generation: AtomicU64::new(1),
            log: Mutex::new(AclLog::default()),
            applied_requirepass: Mutex::new(config.requirepass.clone()),
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, by name.
    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Whether a new connection must authenticate.
    pub fn default_needs_auth(&self) -> bool {
        self.get("default").is_none_or(|u| !(u.nopass && u.enabled))
    }

    /// Whether the default user has no password (protected mode's test).
    pub fn default_nopass(&self) -> bool {
        self.get("default").is_some_and(|u| u.nopass)
    }

    /// Changes one user (created by `create` when missing) under the write
    /// lock, so concurrent ACL SETUSERs apply one after the other as in Redis.
    /// Nothing changes when `change` fails.
    pub fn modify<E>(
        &self,
        name: &str,
        create: impl FnOnce() -> User,
        change: impl FnOnce(&mut User) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut users = self.users.write();
        let mut user = match users.get(name) {
            Some(u) => (**u).clone(),
            None => create(),
        };
        change(&mut user)?;
        users.insert(name.to_string(), Arc::new(user));
        self.generation.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Replaces every user (ACL LOAD).
    pub fn replace(&self, all: BTreeMap<String, User>) {
        *self.users.write() = all.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        self.generation.fetch_add(1, Relaxed);
    }

    /// Removes users; returns how many existed.
    pub fn delete(&self, names: &[String]) -> usize {
        let mut users = self.users.write();
        let removed = names.iter().filter(|n| users.remove(*n).is_some()).count();
        self.generation.fetch_add(1, Relaxed);
        removed
    }

    /// AUTH: the user when it exists, is on and the password matches.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let user = self.get(std::str::from_utf8(name).ok()?)?;
        // The digest comparison runs even for a disabled user, so timing
        // does not tell which case it was.
        let ok = user.password_ok(password);
        (ok && user.enabled).then_some(user)
    }

    /// Follows `requirepass` after CONFIG SET: the default user gets exactly
    /// that password (or nopass when empty), as Redis does.
    pub fn follow_requirepass(&self, config: &Config, table: &CommandTable) {
        let mut applied = self.applied_requirepass.lock();
        if *applied == config.requirepass {
            return;
        }
        *applied = config.requirepass.clone();
        let _ = self.modify::<()>(
            "default",
            || User::default_user(table),
            |user| {
                set_password(user, config.requirepass.as_deref(), table);
                Ok(())
            },
        );
    }

    pub fn add_log(&self, entry: log::Entry, max_len: usize) {
        self.log.lock().add(entry, max_len);
    }
}

fn set_password(user: &mut User, password: Option<&[u8]>, table: &CommandTable) {
    let _ = user.apply(b"resetpass", table, false);
    match password {
        Some(p) => {
            let mut rule = b">".to_vec();
            rule.extend_from_slice(p);
            let _ = user.apply(&rule, table, false);
        }
        None => {
            let _ = user.apply(b"nopass", table, false);
        }
    }
}

/// The client's user, refreshed from the registry when it changed. Borrowed,
/// not cloned: every default-user client sharing one reference count would
/// make all cores write the same cache line on every command.
pub fn current_user<'c>(server: &Server, client: &'c mut Client) -> &'c User {
    let generation = server.acl.generation();
    let stale = client
        .acl_user
        .as_ref()
        .is_none_or(|(g, _)| *g != generation);
    if stale {
        // A deleted user's clients are closed; until then they may run nothing.
        let user = server
            .acl
            .get(&client.user)
            .unwrap_or_else(|| Arc::new(User::new(&client.user, &server.commands, false)));
        client.acl_user = Some((generation, user));
    }
    &client.acl_user.as_ref().expect("just refreshed").1
}

/// The gate's ACL check: command rules, then keys, then channels.
pub fn check(
    server: &Server,
    client: &mut Client,
    id: usize,
    spec: &CommandSpec,
    args: &Args,
) -> Result<(), Denied> {
    let user = current_user(server, client);
    if user.unrestricted() {
        return Ok(());
    }
    check_user(user, id, spec, args)
}

/// What `user` may do with this command: the gate and ACL DRYRUN.
pub fn check_user(user: &User, id: usize, spec: &CommandSpec, args: &Args) -> Result<(), Denied> {
    if !user.may_run(id, spec, args.get_opt(1)) {
        return Err(Denied {
            reason: Reason::Command,
            pos: 0,
        });
    }
    // Shard channels are declared as keys; they are checked as channels.
    if !user.all_keys && spec.flags & flag::PUBSUB == 0 {
        let needs = key_needs(spec);
        let mut positions = Vec::new();
        spec.key_positions(args, &mut positions);
        if let Some(&pos) = positions
            .iter()
            .find(|&&i| !user.may_access_key(args.get(i), needs))
        {
            return Err(Denied {
                reason: Reason::Key,
                pos,
            });
        }
    }
    if !user.all_channels && spec.channels != Channels::None {
        let literal = spec.channels == Channels::Patterns;
        let last = if spec.channels == Channels::First {
            2.min(args.len())
        } else {
            args.len()
        };
        if let Some(pos) = (1..last).find(|&i| !user.may_access_channel(args.get(i), literal)) {
            return Err(Denied {
                reason: Reason::Channel,
                pos,
            });
        }
    }
    Ok(())
}

/// Which key permissions a command needs, from its flags: write commands
/// need `%W`, read-only ones `%R`.
fn key_needs(spec: &CommandSpec) -> u8 {
    if spec.flags & flag::WRITE != 0 {
        user::WRITE
    } else if spec.flags & flag::READONLY != 0 {
        user::READ
    } else {
        user::READ | user::WRITE
    }
}

/// A denial at the gate: logged in the ACL LOG (the client's `cmd=` already
/// naming the refused command, as in Redis); returns the NOPERM text.
pub fn refuse(server: &Server, client: &Client, id: usize, args: &Args, denied: Denied) -> String {
    client.handle.touch(id);
    log_denial(server, client, id, args, denied, context(client));
    denied.message(&server.commands, id)
}

/// Logs a denial in the ACL LOG.
pub fn log_denial(
    server: &Server,
    client: &Client,
    id: usize,
    args: &Args,
    denied: Denied,
    context: log::Context,
) {
    let object = match denied.reason {
        Reason::Command => server.commands.full_name(id).as_bytes().to_vec(),
        _ => args.get(denied.pos).to_vec(),
    };
    log_entry(
        server,
        client,
        denied.reason,
        context,
        object,
        client.user.clone(),
        args,
    );
}

/// Adds one ACL LOG entry for this client.
pub fn log_entry(
    server: &Server,
    client: &Client,
    reason: Reason,
    context: log::Context,
    object: Vec<u8>,
    username: String,
    args: &Args,
) {
    let max_len = server
        .config
        .read()
        .value("acllog-max-len")
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let mut client_info = String::new();
    crate::cmd::client::describe_client(server, client.id, &client.handle, args, &mut client_info);
    server.acl.add_log(
        log::Entry {
            count: 1,
            reason,
            context,
            object,
            username,
            created: Instant::now(),
            client_info,
        },
        max_len,
    );
}

/// The context of a command refused at the gate.
pub fn context(client: &Client) -> log::Context {
    if client.multi.is_some() {
        "multi"
    } else {
        "toplevel"
    }
}

/// Redis's reply to a remote client refused by protected mode.
pub const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode: with `protected-mode yes` and no password on the default
/// user, only loopback clients may connect.
pub fn protected_mode_refuses(
    server: &Server,
    protected_mode: bool,
    peer: std::net::SocketAddr,
) -> bool {
    protected_mode && !peer.ip().to_canonical().is_loopback() && server.acl.default_nopass()
}
