//! Who sent a request: client IP (through trusted proxies only), user agent,
//! and the session behind its bearer token.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, header};

use crate::app::App;
use crate::domain::accounts::sessions;
use crate::domain::{RequestMeta, Viewer};
use crate::error::AppError;
use crate::graphql::context::RequestContext;

/// The client's IP: the socket peer, or, when the peer is a trusted proxy,
/// the right-most X-Forwarded-For entry that is not itself a trusted proxy.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpAddr]) -> String {
    let Some(peer) = peer else {
        return "unknown".to_owned();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
        .to_string()
}

pub fn request_meta(app: &App, headers: &HeaderMap, extensions: &Extensions) -> RequestMeta {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    RequestMeta {
        client_ip: client_ip(headers, peer, &app.config.trusted_proxies),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// The token of an `Authorization: Bearer ...` value.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The viewer of a token; None for no token. An unknown or ended token is
/// anonymous too: operations that need a login then answer UNAUTHENTICATED.
pub async fn viewer_of(app: &App, token: Option<&str>) -> Result<Option<Viewer>, AppError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let mut conn = app.pool.get().await?;
    sessions::authenticate(&mut conn, &app.services(), token).await
}

pub async fn request_context(
    app: &App,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<RequestContext, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    Ok(RequestContext {
        meta: request_meta(app, headers, extensions),
        viewer: viewer_of(app, token).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 10.0.0.2".parse().unwrap());
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let other: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(client_ip(&headers, Some(other), &[proxy]), "10.0.0.9");
        assert_eq!(client_ip(&headers, Some(proxy), &[proxy]), "1.2.3.4");
    }

    #[test]
    fn bearer_tokens_are_parsed() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
