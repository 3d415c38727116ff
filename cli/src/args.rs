//! The command line (clap derive) and the connection it names.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mongoelector::{Client, Database};

use crate::exit::{self, Failure};

#[derive(Parser)]
#[command(
    name = "mongoelector",
    version,
    about = "Run a command under a MongoDB lock or as the elected leader of a group",
    after_help = exit::TABLE
)]
pub struct Cli {
    /// MongoDB URI; its password is never printed.
    #[arg(long, env = "MONGODB_URI", hide_env_values = true, global = true)]
    pub uri: Option<String>,
    /// Database of the lock and election documents.
    #[arg(long, default_value = "mongoelector", global = true)]
    pub db: String,
    /// Log the library's debug messages to stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Acquire KEY, run CMD while the lock is renewed, release when CMD exits.
    #[command(after_help = exit::TABLE)]
    Lock(LockArgs),
    /// Join election GROUP; run CMD while leader, stop it when leadership ends.
    #[command(after_help = exit::TABLE)]
    Elect(ElectArgs),
    /// Show election GROUP's live members and its leader.
    Status(StatusArgs),
    /// Show lock KEY's holder, fence and expiry.
    Show(ShowArgs),
    /// Remove lock KEY whoever holds it (for operators); says what it removed.
    Release(ReleaseArgs),
}

#[derive(Args)]
pub struct LockArgs {
    /// The lock's name.
    pub key: String,
    /// Lease length in seconds; renewed every ttl/4 while CMD runs.
    #[arg(long, default_value = "30", value_parser = positive_seconds, value_name = "S")]
    pub ttl: Duration,
    /// Give up after this many seconds of waiting for the lock.
    #[arg(long, value_parser = positive_seconds, value_name = "S", conflicts_with = "no_wait")]
    pub timeout: Option<Duration>,
    /// Fail at once if the lock is held.
    #[arg(long)]
    pub no_wait: bool,
    /// Collection of the lock documents.
    #[arg(long, default_value = "mongolocker")]
    pub collection: String,
    #[command(flatten)]
    pub child: ChildArgs,
}

#[derive(Args)]
pub struct ElectArgs {
    /// The election's name.
    pub group: String,
    /// Leader lease length in seconds.
    #[arg(long, default_value = "15", value_parser = positive_seconds, value_name = "S")]
    pub ttl: Duration,
    /// Version reported in this member's status.
    #[arg(long)]
    pub app_version: Option<String>,
    /// Exit after the first term instead of waiting for the next.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub child: ChildArgs,
}

/// What both `lock` and `elect` run.
#[derive(Args)]
pub struct ChildArgs {
    /// Seconds between SIGTERM and SIGKILL when the lock or leadership is lost.
    #[arg(long, default_value = "5", value_parser = seconds, value_name = "S")]
    pub grace: Duration,
    /// The command, after `--`. It runs in a process group of its own, with
    /// MONGOELECTOR_KEY and MONGOELECTOR_FENCE in its environment.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

#[derive(Args)]
pub struct StatusArgs {
    /// The election's name.
    pub group: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The lock's name.
    pub key: String,
    /// Collection of the lock documents (`elector.locks` for an election's lock).
    #[arg(long, default_value = "mongolocker")]
    pub collection: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ReleaseArgs {
    /// The lock's name.
    pub key: String,
    /// Required: the lock is removed even from a live holder.
    #[arg(long, required = true)]
    pub force: bool,
    /// Collection of the lock documents.
    #[arg(long, default_value = "mongolocker")]
    pub collection: String,
}

impl Cli {
    /// The database named by `--db` on the server of `--uri` / MONGODB_URI.
    pub fn database(&self) -> Result<Database, Failure> {
        let uri = self.uri.as_deref().filter(|u| !u.trim().is_empty());
        let uri = uri.ok_or_else(|| {
            Failure::new(exit::USAGE, "no MongoDB URI: pass --uri or set MONGODB_URI")
        })?;
        Ok(Client::new(uri)?.database(&self.db)?)
    }
}

/// Seconds as a decimal number, zero allowed.
fn seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_nan() || v < 0.0 {
        return Err(format!("{s:?} is not a number of seconds >= 0"));
    }
    Duration::try_from_secs_f64(v).map_err(|_| format!("{s:?} seconds is too long"))
}

fn positive_seconds(s: &str) -> Result<Duration, String> {
    match seconds(s)? {
        d if d.is_zero() => Err(format!("{s:?} is not positive")),
        d => Ok(d),
    }
}
