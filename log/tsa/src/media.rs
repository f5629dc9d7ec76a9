//! The request's Content-Type, read as a media type (RFC 9110 §8.3.1):
//! `type/subtype` with optional `; name=value` parameters, compared
//! case-insensitively.

/// What the Content-Type selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `application/timestamp-query`: a DER `TimeStampReq`.
    Der,
    /// `application/json`: the JSON form.
    Json,
    /// Another `application/*` type (upstream: 400).
    OtherApplication,
    /// Not a media type, or not `application/*` (upstream: 415).
    Unsupported,
}

/// Characters of an RFC 9110 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads `content_type`.
pub(crate) fn form(content_type: &str) -> Form {
    let mut pieces = content_type.split(';');
    let essence = pieces.next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return Form::Unsupported;
    };
    if !is_token(kind) || !is_token(subtype) {
        return Form::Unsupported;
    }
    for parameter in pieces {
        let parameter = parameter.trim();
        if parameter.is_empty() {
            continue; // "type/subtype;" is tolerated
        }
        match parameter.split_once('=') {
            Some((name, value)) if is_token(name.trim()) && !value.trim().is_empty() => {}
            _ => return Form::Unsupported,
        }
    }
    if !kind.eq_ignore_ascii_case("application") {
        return Form::Unsupported;
    }
    if subtype.eq_ignore_ascii_case("timestamp-query") {
        Form::Der
    } else if subtype.eq_ignore_ascii_case("json") {
        Form::Json
    } else {
        Form::OtherApplication
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert_eq!(form("application/timestamp-query"), Form::Der);
        assert_eq!(form("Application/Timestamp-Query"), Form::Der);
        assert_eq!(form(" application/timestamp-query ; foo=bar"), Form::Der);
        assert_eq!(form("application/json"), Form::Json);
        assert_eq!(form("application/json; charset=utf-8"), Form::Json);
        assert_eq!(form("APPLICATION/JSON;charset=\"UTF-8\""), Form::Json);
        assert_eq!(form("application/json;"), Form::Json);
        assert_eq!(form("application/octet-stream"), Form::OtherApplication);
        assert_eq!(form("text/plain"), Form::Unsupported);
        assert_eq!(form(""), Form::Unsupported);
        assert_eq!(form("application"), Form::Unsupported);
        assert_eq!(form("application/"), Form::Unsupported);
        assert_eq!(form("application/json; charset"), Form::Unsupported);
        assert_eq!(form("application/js on"), Form::Unsupported);
    }
}
