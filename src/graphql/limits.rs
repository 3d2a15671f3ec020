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
    /// Documents parsed and found within the limits, by their text.
    pub parsed: Arc<ParsedDocuments>,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            max_bytes: self.max_bytes,
            max_tokens: self.max_tokens,
            max_aliases: self.max_aliases,
            max_directives: self.max_directives,
            parsed: self.parsed.clone(),
        })
    }
}

struct QueryLimitsExtension {
    max_bytes: usize,
    max_tokens: usize,
    max_aliases: usize,
    max_directives: usize,
    parsed: Arc<ParsedDocuments>,
}

/// Documents kept; past it the memory starts over.
const PARSED_KEPT: usize = 128;
/// Longer documents are parsed every time, so that the memory stays small
/// (operations of apps are shorter).
const PARSED_MAX_BYTES: usize = 4096;

/// The documents clients send, parsed once: apps and integrations send the
/// same few operations over and over, and parsing one costs more than
/// copying it. Only documents within the limits are kept, so a hit skips
/// nothing that would have refused it; validation still runs every time.
#[derive(Default)]
pub struct ParsedDocuments(std::sync::Mutex<HashMap<String, ExecutableDocument>>);

impl ParsedDocuments {
    fn get(&self, query: &str) -> Option<ExecutableDocument> {
        self.0.lock().ok()?.get(query).cloned()
    }

    fn keep(&self, query: &str, document: &ExecutableDocument) {
        if query.len() > PARSED_MAX_BYTES {
            return;
        }
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() >= PARSED_KEPT {
                kept.clear();
            }
            kept.insert(query.to_owned(), document.clone());
        }
    }
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
        if let Some(document) = self.parsed.get(query) {
            return Ok(document);
        }
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
        let counts = count_uses(&document);
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
        self.parsed.keep(query, &document);
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
            _ if b.is_ascii_alphabetic() || b == b'_' => {
                count += 1;
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            _ if b.is_ascii_digit() || b == b'-' => {
                count += 1;
                i += 1;
                // Digits, one fraction and one exponent: `-12.5e+3`.
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
                    i += 1;
                    if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
                        i += 1;
                    }
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
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
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    pub aliases: usize,
    pub directives: usize,
}

impl Uses {
    fn add(&mut self, other: &Uses, times: usize) {
        self.aliases = self
            .aliases
            .saturating_add(other.aliases.saturating_mul(times));
        self.directives = self
            .directives
            .saturating_add(other.directives.saturating_mul(times));
    }
}

/// Counts aliases and directives as executed. Each fragment is counted once
/// and its count multiplied by its spreads, so nested fragments that double
/// at every level cost linear time; fragment cycles (invalid anyway) count
/// nothing for the repeated part.
pub fn count_uses(document: &ExecutableDocument) -> Uses {
    let mut counter = UseCounter {
        fragments: document
            .fragments
            .iter()
            .map(|(name, fragment)| (name, &fragment.node))
            .collect(),
        done: HashMap::new(),
        stack: Vec::new(),
    };
    let operations: Vec<&OperationDefinition> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    let mut total = Uses::default();
    for op in operations {
        total.directives = total.directives.saturating_add(op.directives.len());
        let inner = counter.selection_set(&op.selection_set.node);
        total.add(&inner, 1);
    }
    total
}

struct UseCounter<'a> {
    fragments: HashMap<&'a Name, &'a FragmentDefinition>,
    done: HashMap<&'a Name, Uses>,
    stack: Vec<&'a Name>,
}

impl<'a> UseCounter<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Uses {
        let mut uses = Uses::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    uses.aliases = uses
                        .aliases
                        .saturating_add(usize::from(field.node.alias.is_some()));
                    uses.directives = uses.directives.saturating_add(field.node.directives.len());
                    let inner = self.selection_set(&field.node.selection_set.node);
                    uses.add(&inner, 1);
                }
                Selection::InlineFragment(fragment) => {
                    uses.directives = uses
                        .directives
                        .saturating_add(fragment.node.directives.len());
                    let inner = self.selection_set(&fragment.node.selection_set.node);
                    uses.add(&inner, 1);
                }
                Selection::FragmentSpread(spread) => {
                    uses.directives = uses.directives.saturating_add(spread.node.directives.len());
                    let inner = self.fragment(&spread.node.fragment_name.node);
                    uses.add(&inner, 1);
                }
            }
        }
        uses
    }

    fn fragment(&mut self, name: &'a Name) -> Uses {
        if let Some(known) = self.done.get(name) {
            return *known;
        }
        let Some(fragment) = self.fragments.get(name).copied() else {
            return Uses::default();
        };
        if self.stack.contains(&name) {
            return Uses::default();
        }
        self.stack.push(name);
        let mut uses = self.selection_set(&fragment.selection_set.node);
        uses.directives = uses.directives.saturating_add(fragment.directives.len());
        self.stack.pop();
        self.done.insert(name, uses);
        uses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_documents_are_kept_within_bounds() {
        let parsed = ParsedDocuments::default();
        let query = "query($t: ID!) { task(id: $t) { id } }";
        let doc = async_graphql::parser::parse_query(query).unwrap();
        assert!(parsed.get(query).is_none());
        parsed.keep(query, &doc);
        let kept = parsed.get(query).expect("kept");
        assert_eq!(format!("{kept:?}"), format!("{doc:?}"));
        assert!(parsed.get("{ me { id } }").is_none(), "by exact text");

        let long = format!("{{ me {{ id }} }}{}", " ".repeat(PARSED_MAX_BYTES));
        parsed.keep(&long, &doc);
        assert!(parsed.get(&long).is_none(), "long documents are not kept");

        for i in 0..PARSED_KEPT {
            parsed.keep(&format!("{{ a{i}: me {{ id }} }}"), &doc);
        }
        let len = parsed.0.lock().unwrap().len();
        assert!((1..=PARSED_KEPT).contains(&len), "{len}");
    }

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
        assert_eq!(count_uses(&doc).aliases, 4);
    }

    #[test]
    fn directives_count_on_fields_fragments_and_spreads() {
        let doc = async_graphql::parser::parse_query(
            "query Q @a { x @b { id } ...F @c ... on Query @d { y } } fragment F on Query @e { z @f }",
        )
        .unwrap();
        assert_eq!(count_uses(&doc).directives, 6);
    }

    #[test]
    fn doubling_fragments_are_counted_quickly_and_fully() {
        let mut query = String::from("query { ...F0 } ");
        for level in 0..70 {
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{n} ...F{n} }} ",
                n = level + 1
            ));
        }
        query.push_str("fragment F70 on Query { a: __typename }");
        let doc = async_graphql::parser::parse_query(&query).unwrap();
        assert_eq!(
            count_uses(&doc).aliases,
            usize::MAX,
            "2^70 aliases saturate"
        );
    }

    #[test]
    fn names_numbers_and_spreads_are_separate_tokens() {
        assert_eq!(count_tokens("{ a...F...F }", 100), 7);
        assert_eq!(count_tokens("f(x: -12.5e+3, y: 1)", 100), 9);
    }

    #[test]
    fn fragment_cycles_do_not_loop() {
        let doc = async_graphql::parser::parse_query(
            "query { ...A } fragment A on Query { x: me { id } ...B } fragment B on Query { ...A }",
        )
        .unwrap();
        assert!(count_uses(&doc).aliases < 100);
    }
}
