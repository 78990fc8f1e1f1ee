//! ServiceManager: supervises one ServiceActor per service.

pub mod messages;
