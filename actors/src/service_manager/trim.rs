//! Giving freed memory back once activity settles. A burst (starting many
//! services, a crash loop, a reload) leaves freed heap that glibc keeps for
//! later; one `malloc_trim` QUIET after the last state change returns it to
//! the kernel. The timer is one-shot and armed by activity only, so an idle
//! supervisor never wakes for it, and a storm trims at most once per QUIET.

use super::ServiceManager;
use actix::prelude::*;
use std::time::{Duration, Instant};

/// How long nothing must happen before the trim.
const QUIET: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct TrimState {
    armed: bool,
    last_activity: Option<Instant>,
}

impl ServiceManager {
    /// Something changed (a state, a reload): trim once things are quiet.
    pub(crate) fn note_activity(&mut self, ctx: &mut Context<Self>) {
        self.trim.last_activity = Some(Instant::now());
        if !self.trim.armed {
            self.trim.armed = true;
            ctx.run_later(QUIET, |act, ctx| act.trim_when_quiet(ctx));
        }
    }

    fn trim_when_quiet(&mut self, ctx: &mut Context<Self>) {
        let since = self.trim.last_activity.map_or(QUIET, |t| t.elapsed());
        if since < QUIET {
            ctx.run_later(QUIET - since, |act, ctx| act.trim_when_quiet(ctx));
            return;
        }
        self.trim.armed = false;
        crate::sys::memory::trim();
    }
}
