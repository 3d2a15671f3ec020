//! Counts the SQL statements each test database receives, through diesel's
//! instrumentation hook on every connection the process opens.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, Once};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};

static COUNTS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Mutex::default);
static INSTALL: Once = Once::new();

struct Counter {
    database: Option<String>,
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.database = Some(database_name(url).to_owned());
            }
            InstrumentationEvent::StartQuery { .. } => {
                if let Some(database) = &self.database {
                    *COUNTS.lock().unwrap().entry(database.clone()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
}

/// Counts from now on, for connections opened from now on.
pub fn install() {
    INSTALL.call_once(|| {
        set_default_instrumentation(|| {
            Some(Box::new(Counter { database: None }) as Box<dyn Instrumentation>)
        })
        .unwrap();
    });
}

/// The database of a URL like `postgresql:///name?host=/var/run/postgresql`.
fn database_name(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

/// Statements sent so far to the database at `url`.
pub fn statements(url: &str) -> u64 {
    COUNTS
        .lock()
        .unwrap()
        .get(database_name(url))
        .copied()
        .unwrap_or(0)
}
