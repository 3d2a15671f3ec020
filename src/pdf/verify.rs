//! The report on every signature of a document (work in progress: see the
//! issue note).
