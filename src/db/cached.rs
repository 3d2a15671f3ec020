//! Writes on hot paths as cached prepared statements.
//!
//! Diesel caches a statement per connection only when its type alone fixes
//! its SQL. It never caches an UPDATE (a changeset may skip `None` fields),
//! an `Insertable` INSERT (a field may be `DEFAULT`), an upsert or a
//! `sql_query`, so each of those is parsed and planned by PostgreSQL, in
//! a round trip of its own, on every call. [`Cached`] keys such a
//! statement by its SQL text and bind types instead, which is exactly what
//! PostgreSQL prepares, so a statement whose shape varies gets one cache
//! entry per shape. Use it only where the shapes are few: not for batch
//! inserts of any number of rows.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// A statement prepared once per connection and SQL text.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(pub Q);

/// `.cached()` on any statement.
pub trait CachedExt: Sized {
    fn cached(self) -> Cached<Self> {
        Cached(self)
    }
}

impl<Q: QueryFragment<Pg>> CachedExt for Q {}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    // Keyed by the SQL text and bind types, not by type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}
