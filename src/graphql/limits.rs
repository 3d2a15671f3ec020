//! Limits checked before a document is parsed (size, tokens) and right after
//! (aliases, counted through fragment spreads), plus the rule that every
//! error leaves with an `extensions.code`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet,
};
use async_graphql::{Name, Response, ServerError, ServerResult, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::error::ErrorCode;

pub struct QueryLimits {
    pub max_bytes: usize,
    pub max_tokens: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            max_bytes: self.max_bytes,
            max_tokens: self.max_tokens,
            max_aliases: self.max_aliases,
            max_directives: self.max_directives,
        })
    }
}

struct QueryLimitsExtension {
    max_bytes: usize,
    max_tokens: usize,
    max_aliases: usize,
    max_directives: usize,
}

fn limit_error(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::BadUserInput.as_str());
    error
}

/// Gives every error without a code BAD_USER_INPUT: what reaches a client
/// without one is a malformed or invalid document.
fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", ErrorCode::BadUserInput.as_str());
        }
    }
    response
}

#[async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        with_codes(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(with_codes).boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > self.max_bytes {
            return Err(limit_error(format!(
                "query document is larger than {} bytes",
                self.max_bytes
            )));
        }
        if count_tokens(query, self.max_tokens + 1) > self.max_tokens {
            return Err(limit_error(format!(
                "query document has more than {} tokens",
                self.max_tokens
            )));
        }
        let document = next.run(ctx, query, variables).await?;
        let stop_at = self.max_aliases.max(self.max_directives) + 1;
        let counts = count_uses(&document, stop_at);
        if counts.aliases > self.max_aliases {
            return Err(limit_error(format!(
                "query uses more than {} aliases",
                self.max_aliases
            )));
        }
        if counts.directives > self.max_directives {
            return Err(limit_error(format!(
                "query uses more than {} directives",
                self.max_directives
            )));
        }
        Ok(document)
    }
}

/// Counts GraphQL lexical tokens, stopping once `stop_at` is reached.
pub fn count_tokens(source: &str, stop_at: usize) -> usize {
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut count = 0;
    while i < bytes.len() && count < stop_at {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            0xEF if bytes[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                count += 1;
                if bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i..].starts_with(b"\\\"\"\"") {
                            4
                        } else {
                            1
                        };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                count += 1;
                i += 3;
            }
            _ if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                count += 1;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
            }
            _ => {
                count += 1;
                i += 1;
            }
        }
    }
    count
}

/// Aliases and directives as executed: a fragment counts once per spread.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uses {
    pub aliases: usize,
    pub directives: usize,
}

/// Counts aliases and directives, stopping once either reaches `stop_at`;
/// fragment cycles (invalid anyway) are cut.
pub fn count_uses(document: &ExecutableDocument, stop_at: usize) -> Uses {
    let fragments: HashMap<&Name, &FragmentDefinition> = document
        .fragments
        .iter()
        .map(|(name, fragment)| (name, &fragment.node))
        .collect();
    let mut counter = UseCounter {
        fragments,
        stack: Vec::new(),
        uses: Uses::default(),
        stop_at,
    };
    let operations: Vec<&OperationDefinition> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    for op in operations {
        counter.uses.directives += op.directives.len();
        counter.visit(&op.selection_set.node);
    }
    counter.uses
}

struct UseCounter<'a> {
    fragments: HashMap<&'a Name, &'a FragmentDefinition>,
    stack: Vec<&'a Name>,
    uses: Uses,
    stop_at: usize,
}

impl<'a> UseCounter<'a> {
    fn visit(&mut self, set: &'a SelectionSet) {
        for item in &set.items {
            if self.uses.aliases >= self.stop_at || self.uses.directives >= self.stop_at {
                return;
            }
            match &item.node {
                Selection::Field(field) => {
                    self.uses.aliases += usize::from(field.node.alias.is_some());
                    self.uses.directives += field.node.directives.len();
                    self.visit(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    self.uses.directives += fragment.node.directives.len();
                    self.visit(&fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    self.uses.directives += spread.node.directives.len();
                    let name = &spread.node.fragment_name.node;
                    if self.stack.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(name).copied() {
                        self.uses.directives += fragment.directives.len();
                        self.stack.push(name);
                        self.visit(&fragment.selection_set.node);
                        self.stack.pop();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_counted_like_the_lexer() {
        assert_eq!(count_tokens("{ me { id } }", 100), 6);
        assert_eq!(count_tokens("query Q($a: Int = 1) { f(a: $a) }", 100), 19);
        assert_eq!(count_tokens("# comment\n{ a(s: \"x y, z\") }", 100), 8);
        assert_eq!(count_tokens("{ ...F }", 100), 4);
        assert_eq!(count_tokens(&"a ".repeat(1000), 10), 10);
    }

    #[test]
    fn aliases_count_through_fragment_spreads() {
        let doc = async_graphql::parser::parse_query(
            "query { ...F ...F } fragment F on Query { a: me { id } b: me { id } }",
        )
        .unwrap();
        assert_eq!(count_uses(&doc, 100).aliases, 4);
    }

    #[test]
    fn directives_count_on_fields_fragments_and_spreads() {
        let doc = async_graphql::parser::parse_query(
            "query Q @a { x @b { id } ...F @c ... on Query @d { y } } fragment F on Query @e { z @f }",
        )
        .unwrap();
        assert_eq!(count_uses(&doc, 100).directives, 6);
    }

    #[test]
    fn fragment_cycles_do_not_loop() {
        let doc = async_graphql::parser::parse_query(
            "query { ...A } fragment A on Query { x: me { id } ...B } fragment B on Query { ...A }",
        )
        .unwrap();
        assert!(count_uses(&doc, 100).aliases < 100);
    }
}
