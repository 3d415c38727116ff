//! A tiny process-wide log sink. The core never prints by itself; the default
//! sink writes warnings and errors to stderr, and the C ABI can install its own.

use std::sync::{Arc, RwLock};

/// Severity, numbered as in the C ABI (1 error .. 5 trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// A log sink: receives every message at or below its max level.
pub type Sink = Arc<dyn Fn(Level, &str) + Send + Sync>;

struct Logger {
    max: Level,
    sink: Option<Sink>,
}

static LOGGER: RwLock<Logger> = RwLock::new(Logger {
    max: Level::Warn,
    sink: None,
});

/// Installs `sink` for messages up to `max`; `None` restores the default
/// (warnings and errors to stderr).
pub fn set_sink(sink: Option<Sink>, max: Level) {
    let mut logger = LOGGER.write().unwrap_or_else(|e| e.into_inner());
    logger.max = if sink.is_some() { max } else { Level::Warn };
    logger.sink = sink;
}

/// Sends one message to the sink if its level is enabled. The sink runs
/// after the logger's lock is released, so it may take its time or log.
pub fn emit(level: Level, msg: &str) {
    let sink = {
        let logger = LOGGER.read().unwrap_or_else(|e| e.into_inner());
        if level > logger.max {
            return;
        }
        logger.sink.clone()
    };
    match sink {
        Some(sink) => sink(level, msg),
        None => eprintln!("mongoelector [{level:?}] {msg}"),
    }
}

macro_rules! log_at {
    ($level:ident, $($arg:tt)*) => {
        $crate::core::log::emit($crate::core::log::Level::$level, &format!($($arg)*))
    };
}
pub(crate) use log_at;
