//! Lua scripting (EVAL and friends): the embedded Lua 5.1 interpreter, its
//! sandbox, the conversions between Lua values and RESP ([`convert`]), and
//! the libraries Redis gives scripts ([`lib`]).
//!
//! There is one interpreter per server, as in Redis, behind a mutex
//! ([`Scripts::engine`]); EVAL holds every shard while it runs, so a script is
//! atomic. What other clients need while a script runs (is one running, is it
//! busy, kill it) lives in lock-free [`RunState`], so BUSY replies and SCRIPT
//! KILL never wait for the interpreter or a shard.

pub mod convert;
pub mod lib;
pub mod shebang;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};
use parking_lot::{Mutex, MutexGuard};

/// `redis.REDIS_VERSION` and `redis.REDIS_VERSION_NUM` (0x00MMmmpp).
const VERSION: &str = "7.0.15";
const VERSION_NUM: i64 = 0x07_00_0f;

/// How often (in Lua instructions) a running script looks at the clock and
/// at SCRIPT KILL.
const HOOK_EVERY: u32 = 10_000;

/// What the caller of a killed script gets (plus the usual script suffix).
pub const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The server's scripting state.
pub struct Scripts {
    engine: Mutex<Option<Engine>>,
    pub run: Arc<RunState>,
    /// INFO memory figures, refreshed after each load or run so INFO never
    /// waits for a running script.
    cached: AtomicUsize,
    cached_bytes: AtomicUsize,
    lua_memory: AtomicUsize,
    /// lrand48 state behind `math.random`: seeded once per server and never
    /// reset between scripts, as in Redis 7.0.
    rand_state: Arc<AtomicU64>,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            engine: Mutex::new(None),
            run: Arc::new(RunState::default()),
            cached: AtomicUsize::new(0),
            cached_bytes: AtomicUsize::new(0),
            lua_memory: AtomicUsize::new(0),
            rand_state: Arc::new(AtomicU64::new(LRAND48_INITIAL)),
        }
    }
}

impl Scripts {
    pub fn with_busy_threshold(ms: u64) -> Scripts {
        let scripts = Scripts::default();
        scripts.run.set_threshold_ms(ms);
        scripts
    }

    /// The interpreter, built on first use (and again after SCRIPT FLUSH).
    pub fn engine(&self) -> Result<EngineGuard<'_>, String> {
        let mut guard = self.engine.lock();
        if guard.is_none() {
            *guard = Some(
                Engine::new(self.run.clone(), self.rand_state.clone())
                    .map_err(|e| format!("ERR {e}"))?,
            );
        }
        Ok(EngineGuard {
            guard,
            scripts: self,
        })
    }

    /// SCRIPT FLUSH: drops every script and the interpreter itself, as Redis
    /// does, so nothing a script left behind survives.
    pub fn flush(&self) {
        *self.engine.lock() = None;
        self.cached.store(0, Relaxed);
        self.cached_bytes.store(0, Relaxed);
        self.lua_memory.store(0, Relaxed);
    }

    pub fn cached_count(&self) -> usize {
        self.cached.load(Relaxed)
    }

    pub fn cached_bytes(&self) -> usize {
        self.cached_bytes.load(Relaxed)
    }

    pub fn lua_memory(&self) -> usize {
        self.lua_memory.load(Relaxed)
    }
}

/// The locked interpreter; refreshes the INFO figures when released.
pub struct EngineGuard<'a> {
    guard: MutexGuard<'a, Option<Engine>>,
    scripts: &'a Scripts,
}

impl std::ops::Deref for EngineGuard<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        self.guard.as_ref().expect("engine built")
    }
}

impl std::ops::DerefMut for EngineGuard<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        self.guard.as_mut().expect("engine built")
    }
}

impl Drop for EngineGuard<'_> {
    fn drop(&mut self) {
        if let Some(engine) = self.guard.as_ref() {
            self.scripts.cached.store(engine.cache.len(), Relaxed);
            self.scripts.cached_bytes.store(engine.body_bytes, Relaxed);
            self.scripts
                .lua_memory
                .store(engine.lua.used_memory(), Relaxed);
        }
    }
}

/// What other clients may read or ask of the running script.
pub struct RunState {
    /// Unix milliseconds at which the running script started; 0 when idle.
    started_ms: AtomicU64,
    /// `busy-reply-threshold` in milliseconds.
    threshold_ms: AtomicU64,
    kill: AtomicBool,
    /// The running script called a write command: SCRIPT KILL refuses.
    wrote: AtomicBool,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            started_ms: AtomicU64::new(0),
            threshold_ms: AtomicU64::new(5000),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
        }
    }
}

/// The answer to SCRIPT KILL.
#[derive(Debug, PartialEq, Eq)]
pub enum KillOutcome {
    Killed,
    NotBusy,
    Unkillable,
}

impl RunState {
    pub fn set_threshold_ms(&self, ms: u64) {
        self.threshold_ms.store(ms, Relaxed);
    }

    pub fn is_running(&self) -> bool {
        self.started_ms.load(Relaxed) != 0
    }

    /// A script has run longer than `busy-reply-threshold`: other clients get
    /// BUSY instead of waiting.
    pub fn is_busy(&self) -> bool {
        let started = self.started_ms.load(Relaxed);
        started != 0
            && crate::cmd::now_ms().saturating_sub(started) >= self.threshold_ms.load(Relaxed)
    }

    /// The running script has called a write command.
    pub fn wrote(&self) -> bool {
        self.wrote.load(Relaxed)
    }

    pub fn note_write(&self) {
        self.wrote.store(true, Relaxed);
    }

    pub fn kill(&self) -> KillOutcome {
        if !self.is_busy() {
            return KillOutcome::NotBusy;
        }
        if self.wrote.load(Relaxed) {
            return KillOutcome::Unkillable;
        }
        self.kill.store(true, Relaxed);
        KillOutcome::Killed
    }

    /// SHUTDOWN NOSAVE: stop the script whatever it wrote.
    pub fn force_kill(&self) {
        if self.is_running() {
            self.kill.store(true, Relaxed);
        }
    }

    pub fn was_killed(&self) -> bool {
        self.kill.load(Relaxed)
    }

    /// Waits, as Redis's other clients do, while a script runs and is not yet
    /// busy. Returns true when the command may go on, false when it must get
    /// BUSY. The wait happens off the async worker, so the runtime keeps
    /// serving other connections (and SCRIPT KILL).
    pub fn wait_turn(&self, allow_busy: bool) -> bool {
        if !self.is_running() {
            return true;
        }
        blocking(|| {
            loop {
                if !self.is_running() {
                    return true;
                }
                if self.is_busy() {
                    return allow_busy;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    }

    fn begin(&self) {
        self.kill.store(false, Relaxed);
        self.wrote.store(false, Relaxed);
        self.started_ms.store(crate::cmd::now_ms().max(1), Relaxed);
    }

    fn end(&self) {
        self.started_ms.store(0, Relaxed);
    }

    /// Called every [`HOOK_EVERY`] instructions. A killed script errors here
    /// every time, so a `pcall` in the script cannot swallow the kill.
    fn on_hook(&self) -> mlua::Result<VmState> {
        if self.kill.load(Relaxed) {
            return Err(mlua::Error::runtime(KILLED));
        }
        Ok(VmState::Continue)
    }
}

/// Runs `f` where it may block the thread: off the async worker on tokio's
/// multi-threaded runtime, directly elsewhere (tests, other runtimes).
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// The interpreter and its script cache.
pub struct Engine {
    lua: Lua,
    /// Rust primitives and per-run slots shared with `sandbox.lua`.
    internal: Table,
    /// The real globals table behind the read-only proxy scripts see.
    globals: Table,
    /// The real `redis` table, where each run sets `call`, `pcall` and
    /// `acl_check_cmd`.
    redis: Table,
    cache: HashMap<String, Function>,
    /// The [`shebang`] flags of the cached scripts that declare them.
    flags: HashMap<String, u8>,
    body_bytes: usize,
}

/// What a script's `redis.*` call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `redis.call` / `redis.pcall`, in the RESP version the script chose.
    Call { resp3: bool },
    /// `redis.acl_check_cmd`: only whether the command may run.
    AclCheck,
}

/// How a script ended.
pub enum Outcome {
    /// Returned a value; `resp3` is what `redis.setresp` chose last.
    Returned { value: Value, resp3: bool },
    /// Raised an error: the `{err=..., source=..., line=...}` table (or a
    /// plain value when the error handler could not make one).
    Raised(Value),
}

impl Engine {
    fn new(run: Arc<RunState>, rand_state: Arc<AtomicU64>) -> mlua::Result<Engine> {
        // Safety: the debug library is only used by the sandbox's error
        // handler and removed from the globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::new(),
            )
        };
        lib::register_all(&lua)?;
        let internal = lua.create_table()?;
        internal.raw_set("version", VERSION)?;
        internal.raw_set("version_num", VERSION_NUM)?;
        internal.raw_set(
            "sha1hex",
            lua.create_function(|_, text: mlua::String| Ok(sha1_hex(&text.as_bytes())))?,
        )?;
        internal.raw_set(
            "log",
            lua.create_function(|_, (level, message): (i64, String)| {
                log_from_script(level, &message);
                Ok(())
            })?,
        )?;
        let state = rand_state.clone();
        internal.raw_set(
            "rand48",
            lua.create_function(move |_, ()| Ok(rand48_unit(&state)))?,
        )?;
        let state = rand_state.clone();
        internal.raw_set(
            "srand48",
            lua.create_function(move |_, seed: i64| {
                state.store(srand48(seed as i32), Relaxed);
                Ok(())
            })?,
        )?;
        let globals = lua.globals();
        let protected: Table = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=sandbox")
            .call((globals.clone(), internal.clone()))?;
        lua.set_globals(protected)?;
        let redis: Table = internal.raw_get("redis")?;
        for name in ["sha1hex", "log", "setresp", "set_repl"] {
            let inner: Function = redis.raw_get(name)?;
            redis.raw_set(name, c_trampoline(&lua, inner)?)?;
        }
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| run.on_hook(),
        )?;
        Ok(Engine {
            lua,
            internal,
            globals,
            redis,
            cache: HashMap::new(),
            flags: HashMap::new(),
            body_bytes: 0,
        })
    }

    /// Compiles and caches `body` (a no-op when cached); returns its SHA1.
    /// The error is Redis's reply text.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let shebang = shebang::parse(body)?;
        let code = &body[shebang.map_or(0, |(_, len)| len)..];
        let function = self
            .lua
            .load(code)
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                let detail = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {detail}")
            })?;
        self.body_bytes += body.len();
        self.cache.insert(sha.clone(), function);
        if let Some((flags, _)) = shebang {
            self.flags.insert(sha.clone(), flags);
        }
        Ok(sha)
    }

    /// The shebang flags of a cached script; None in compatibility mode.
    pub fn flags(&self, sha: &str) -> Option<u8> {
        self.flags.get(sha).copied()
    }

    /// The cached script with this lower-case SHA1.
    pub fn get(&self, sha: &str) -> Option<Function> {
        self.cache.get(sha).cloned()
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.cache.contains_key(sha)
    }

    /// Runs `function` with `KEYS` and `ARGV`; `redis.call` and friends go to
    /// `dispatch(lua, mode, args)`, which answers (true, result) or (false,
    /// `{err=...}`). `run` tracks the script for BUSY and SCRIPT KILL.
    pub fn run<'k, D>(
        &mut self,
        run: &RunState,
        function: &Function,
        keys: impl Iterator<Item = &'k [u8]>,
        argv: impl Iterator<Item = &'k [u8]>,
        dispatch: D,
    ) -> mlua::Result<Outcome>
    where
        D: FnMut(&Lua, Mode, Variadic<Value>) -> mlua::Result<(bool, Value)>,
    {
        self.globals.raw_set("KEYS", self.array(keys)?)?;
        self.globals.raw_set("ARGV", self.array(argv)?)?;
        self.internal.raw_set("resp", 2)?;
        self.internal.raw_set("pending", Value::Nil)?;
        let runner: Function = self.internal.raw_get("run")?;
        let dispatch = RefCell::new(dispatch);
        let internal = &self.internal;
        // redis.call raises: Lua errors raised from Rust arrive as userdata,
        // so the {err=...} table waits in `internal.pending` for the error
        // handler (or pcall) to pick it up.
        let entry = |lua: &Lua, raise: bool, acl: bool, args: Variadic<Value>| {
            internal.raw_set("pending", Value::Nil)?;
            let mode = if acl {
                Mode::AclCheck
            } else {
                Mode::Call {
                    resp3: internal.raw_get::<i64>("resp")? == 3,
                }
            };
            let (ok, value) = (dispatch.borrow_mut())(lua, mode, args)?;
            if ok || !raise {
                return Ok(value);
            }
            internal.raw_set("pending", value)?;
            Err(mlua::Error::runtime("redis.call failed"))
        };
        run.begin();
        let result = self.lua.scope(|scope| {
            let call = scope.create_function(|lua, args| entry(lua, true, false, args))?;
            let pcall = scope.create_function(|lua, args| entry(lua, false, false, args))?;
            let acl = scope.create_function(|lua, args| entry(lua, true, true, args))?;
            self.redis.raw_set("call", call)?;
            self.redis.raw_set("pcall", pcall)?;
            self.redis.raw_set("acl_check_cmd", acl)?;
            runner.call::<(bool, Value)>(function)
        });
        run.end();
        let (ok, value) = result?;
        if !ok {
            return Ok(Outcome::Raised(value));
        }
        let resp3 = self.internal.raw_get::<i64>("resp")? == 3;
        Ok(Outcome::Returned { value, resp3 })
    }

    fn array<'k>(&self, items: impl Iterator<Item = &'k [u8]>) -> mlua::Result<Table> {
        let t = self.lua.create_table()?;
        for (i, item) in items.enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }
}

/// Wraps a Lua function in a Rust one. Lua 5.1 drops the caller's frame on
/// a tail call to a Lua function but not to a C function, and the error
/// handler needs that frame for the `on @user_script:<line>` part.
fn c_trampoline(lua: &Lua, inner: Function) -> mlua::Result<Function> {
    lua.create_function(move |_, args: mlua::MultiValue| inner.call::<mlua::MultiValue>(args))
}

/// Lower-case hex SHA1, the name Redis caches a script under.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

fn log_from_script(level: i64, message: &str) {
    match level {
        0 => tracing::debug!("{message}"),
        1 => tracing::debug!("{message}"),
        2 => tracing::info!("{message}"),
        _ => tracing::warn!("{message}"),
    }
}

/// The lrand48 generator Redis uses for `math.random`: 48-bit LCG state.
const LRAND48_A: u64 = 0x5_DEEC_E66D;
const LRAND48_C: u64 = 0xB;
const LRAND48_MASK: u64 = (1 << 48) - 1;
const LRAND48_MAX: u64 = i32::MAX as u64;
/// lrand48's state before any seeding, where Redis starts.
const LRAND48_INITIAL: u64 = 0x1234_ABCD_330E;

fn srand48(seed: i32) -> u64 {
    (((seed as u32 as u64) << 16) | 0x330E) & LRAND48_MASK
}

/// The next lrand48 value scaled into [0, 1), as Redis's `math.random()`.
fn rand48_unit(state: &AtomicU64) -> f64 {
    let next = (state.load(Relaxed).wrapping_mul(LRAND48_A) + LRAND48_C) & LRAND48_MASK;
    state.store(next, Relaxed);
    let value = next >> 17;
    (value % LRAND48_MAX) as f64 / LRAND48_MAX as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrand48_matches_redis_sequence() {
        // A fresh Redis 7.0: math.random() then math.random(100) gives 85.
        let state = AtomicU64::new(LRAND48_INITIAL);
        rand48_unit(&state);
        assert_eq!((rand48_unit(&state) * 100.0).floor() + 1.0, 85.0);
        // randomseed(42); random(100), random(100) → 75, 35.
        let state = AtomicU64::new(srand48(42));
        assert_eq!((rand48_unit(&state) * 100.0).floor() + 1.0, 75.0);
        assert_eq!((rand48_unit(&state) * 100.0).floor() + 1.0, 35.0);
    }

    #[test]
    fn sha1_is_lower_case_hex() {
        assert_eq!(
            sha1_hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }

    #[test]
    fn kill_needs_a_busy_script_that_has_not_written() {
        let run = RunState::default();
        assert_eq!(run.kill(), KillOutcome::NotBusy);
        run.set_threshold_ms(0);
        run.begin();
        run.note_write();
        assert_eq!(run.kill(), KillOutcome::Unkillable);
        run.end();
        run.begin();
        assert_eq!(run.kill(), KillOutcome::Killed);
        assert!(run.on_hook().is_err());
        run.end();
        assert!(!run.is_running());
    }
}
