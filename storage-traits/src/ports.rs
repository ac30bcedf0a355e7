//! The service ports (being written).
