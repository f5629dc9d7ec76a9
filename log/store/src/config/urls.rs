//! The origin and the client URL `public_url` implies.

use super::invalid;
use crate::error::Result;

/// The origin a public URL implies: its host, without scheme, port or path
/// (the Rekor convention that sigstore-go checks).
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for a URL that is not http(s) with a host.
pub fn origin_of(public_url: &str) -> Result<String> {
    let url = url::Url::parse(public_url).map_err(|e| invalid("public_url", e))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("public_url", "must be http:// or https://"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| invalid("public_url", "has no host"))?;
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned())
}

/// The URL clients reach the server at: `public_url`, with `https` for
/// `http` when TLS is on (the port and path as given).
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for a URL that does not parse.
pub fn client_url(public_url: &str, tls: bool) -> Result<String> {
    if !tls {
        return Ok(public_url.to_owned());
    }
    let mut url = url::Url::parse(public_url).map_err(|e| invalid("public_url", e))?;
    if url.scheme() == "http" {
        url.set_scheme("https")
            .map_err(|()| invalid("public_url", "cannot be made https"))?;
    }
    // Url adds a trailing slash to a bare host; keep what was written.
    let mut text = url.to_string();
    if !public_url.ends_with('/') && text.ends_with('/') && url.path() == "/" {
        text.pop();
    }
    Ok(text)
}
