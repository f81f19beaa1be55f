//! Browser-form uploads (PostObject) where s3s and AWS differ:
//! - a failed policy condition: s3s answers 400 `InvalidPolicyDocument`; AWS answers 403
//!   `AccessDenied` ("Invalid according to Policy: Policy Condition failed"), which the server answers
//!   in place of s3s's answer when [`failed_condition`] finds one;
//! - the fields named as AWS names them, not as the headers are: s3s reads only `x-amz-acl` and
//!   `x-amz-tagging` (URL-encoded) and drops the rest of the form before CloudVault's hooks run, so
//!   the listener keeps the form's first bytes ([`tap`]) and [`complete_input`] reads AWS's `acl`
//!   (a canned ACL) and `tagging` (a Tagging XML document) from them;
//! - fields before the file over AWS's 20 KB: 400 `MaxPostPreDataLengthExceededError`
//!   ([`crate::limits::MAX_POST_PRE_DATA_BYTES`]), where s3s says `MalformedPOSTRequest`.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use s3s::dto::{ObjectCannedACL, PostObjectInput};
use s3s::{S3Error, S3Request, S3Result, s3_error};

use crate::limits::MAX_POST_PRE_DATA_BYTES;

/// The first [`MAX_POST_PRE_DATA_BYTES`] of a browser form's body, copied as s3s reads it (see
/// [`tap`]); the listener puts it in the request's extensions. What AWS calls the form's pre-data (its
/// fields and the file part's headers) is in it whenever the form is within AWS's limit.
#[derive(Debug, Clone, Default)]
pub struct FormPrefix(Arc<Mutex<Vec<u8>>>);

impl FormPrefix {
    fn bytes(&self) -> Bytes {
        Bytes::copy_from_slice(&self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn keep(&self, data: &[u8]) {
        let mut kept = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let room = MAX_POST_PRE_DATA_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..room.min(data.len())]);
    }
}

/// A form body that copies its first bytes into a [`FormPrefix`] as they are read.
#[derive(Debug)]
pub struct Tapped<B> {
    inner: B,
    prefix: FormPrefix,
}

/// Wraps a browser form's body so that its first [`MAX_POST_PRE_DATA_BYTES`] are kept in the returned
/// [`FormPrefix`] as s3s reads them: nothing is read ahead, and nothing beyond that is kept.
pub fn tap<B>(body: B) -> (Tapped<B>, FormPrefix) {
    let prefix = FormPrefix::default();
    (Tapped { inner: body, prefix: prefix.clone() }, prefix)
}

impl<B: hyper::body::Body<Data = Bytes> + Unpin> hyper::body::Body for Tapped<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.prefix.keep(data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Why a form's fields could not be read from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreadable {
    /// The prefix filled up before the file part's content began: over AWS's pre-data limit.
    TooLarge,
    /// Not a form s3s would take (no file part, a part without a name, a field not UTF-8).
    Malformed,
}

impl Unreadable {
    fn into_error(self) -> S3Error {
        match self {
            Unreadable::TooLarge => pre_data_too_large(),
            Unreadable::Malformed => {
                s3_error!(MalformedPOSTRequest, "The body of your POST request is not well-formed multipart/form-data.")
            }
        }
    }
}

/// AWS's error code and message for a form whose fields before the file are over its limit (400).
pub const PRE_DATA_TOO_LARGE: (&str, &str) =
    ("MaxPostPreDataLengthExceededError", "Your POST request fields preceding the upload file were too large.");

fn pre_data_too_large() -> S3Error {
    s3_error!(MaxPostPreDataLengthExceededError, "{}", PRE_DATA_TOO_LARGE.1)
}

/// The boundary of a `multipart/form-data` Content-Type.
pub fn boundary_of(headers: &http::HeaderMap) -> Option<String> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The text fields before the file part, names lower-cased, in order, parsed as s3s parses them.
async fn fields_before_file(prefix: Bytes, boundary: &str) -> Result<Vec<(String, String)>, Unreadable> {
    // A parse that runs out of bytes ran into the end of the prefix, or of a form that is too short.
    let failed = if prefix.len() >= MAX_POST_PRE_DATA_BYTES { Unreadable::TooLarge } else { Unreadable::Malformed };
    let fail = |_: s3s_multipart::Error| failed;
    let boundary = s3s_multipart::Boundary::new(boundary.as_bytes()).map_err(|_| Unreadable::Malformed)?;
    let stream = futures::stream::iter([Ok::<_, s3s_multipart::Error>(prefix)]);
    let mut parser = s3s_multipart::Multipart::new(stream, &boundary, MAX_POST_PRE_DATA_BYTES);
    let mut fields = Vec::new();
    loop {
        let mut part = parser.next_part().await.map_err(fail)?.ok_or(Unreadable::Malformed)?;
        let mut name = None;
        while let Some(header) = part.next_header().await.map_err(fail)? {
            if header.name.eq_ignore_ascii_case("content-disposition") {
                let disposition = s3s_multipart::parse_content_disposition(header.value);
                name = disposition.and_then(|d| d.name).map(|n| String::from_utf8_lossy(n).to_ascii_lowercase());
            }
        }
        let name = name.ok_or(Unreadable::Malformed)?;
        if name == "file" {
            return Ok(fields);
        }
        let mut value = Vec::new();
        while let Some(chunk) = part.next_data().await.map_err(fail)? {
            value.extend_from_slice(&chunk);
        }
        fields.push((name, String::from_utf8(value).map_err(|_| Unreadable::Malformed)?));
    }
}

/// Completes a browser form's input with the object settings AWS names differently from s3s, read
/// from the form's own fields (see [`FormPrefix`]): `acl`, a canned ACL, and `tagging`, a Tagging XML
/// document (as `x-amz-tagging`, URL-encoded, which the write path reads). The access hook calls
/// this before it builds the form's condition keys, so a policy sees them as at AWS. Refused: fields
/// before the file over AWS's limit (400 `MaxPostPreDataLengthExceededError`), a setting given both
/// ways with different values (400 `InvalidArgument`), a malformed tag document (400 `MalformedXML`).
pub async fn complete_input(req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
    let Some(prefix) = req.extensions.get::<FormPrefix>().cloned() else {
        return Err(s3_error!(InternalError, "The form's fields were not kept."));
    };
    let boundary = boundary_of(&req.headers).ok_or_else(|| Unreadable::Malformed.into_error())?;
    let fields = fields_before_file(prefix.bytes(), &boundary).await.map_err(Unreadable::into_error)?;
    let field = |name: &str| fields.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    if let Some(acl) = field("acl") {
        agree(req.input.acl.as_ref().map(ObjectCannedACL::as_str), &acl, "acl")?;
        req.input.acl = Some(ObjectCannedACL::from(acl));
    }
    if let Some(document) = field("tagging") {
        let tagging = crate::s3::ops::tagging::tagging_document_as_header(&document)?;
        if req.input.tagging.is_some() {
            return Err(s3_error!(InvalidArgument, "Give the form's tags in one field: tagging or x-amz-tagging."));
        }
        req.input.tagging = Some(tagging);
    }
    Ok(())
}

/// A setting a form gives as AWS names it and as s3s does must say the same thing.
fn agree(as_header: Option<&str>, as_field: &str, name: &str) -> S3Result<()> {
    match as_header {
        Some(other) if other != as_field => {
            Err(s3_error!(InvalidArgument, "The form's {name} and x-amz-{name} fields disagree."))
        }
        _ => Ok(()),
    }
}

/// Whether s3s's answer to a form is its `MalformedPOSTRequest` for fields over the pre-data limit
/// (s3s's own field limits are set to it), which AWS answers as [`PRE_DATA_TOO_LARGE`].
pub async fn refused_for_size(response: &s3s::HttpResponse, prefix: &FormPrefix, boundary: Option<&str>) -> bool {
    if response.status() != http::StatusCode::BAD_REQUEST {
        return false;
    }
    let body = response.body().bytes().filter(|b| b.len() <= MAX_ERROR_BODY);
    let malformed =
        body.is_some_and(|b| std::str::from_utf8(&b).is_ok_and(|t| t.contains("<Code>MalformedPOSTRequest</Code>")));
    let Some(boundary) = boundary.filter(|_| malformed) else { return false };
    fields_before_file(prefix.bytes(), boundary).await == Err(Unreadable::TooLarge)
}

/// Most bytes of an s3s error body this looks into (its errors are a few hundred bytes).
const MAX_ERROR_BODY: usize = 4096;

/// The message of s3s's 400 `InvalidPolicyDocument` for a failed form condition (XML-escaped, as
/// in its body), which the server answers as AWS does: 403 `AccessDenied`, "Invalid according to
/// Policy: ...". `None` for any other response; a policy that does not parse stays 400, as at AWS.
pub fn failed_condition(response: &s3s::HttpResponse) -> Option<String> {
    if response.status() != http::StatusCode::BAD_REQUEST {
        return None;
    }
    let body = response.body().bytes().filter(|b| b.len() <= MAX_ERROR_BODY)?;
    let text = std::str::from_utf8(&body).ok()?;
    if !text.contains("<Code>InvalidPolicyDocument</Code>") {
        return None;
    }
    between(text, "<Message>", "</Message>").filter(|m| m.starts_with("Policy condition")).map(str::to_owned)
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, code: &str, message: &str) -> s3s::HttpResponse {
        let body = format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>");
        let mut r = http::Response::new(s3s::Body::from(body));
        *r.status_mut() = http::StatusCode::from_u16(status).expect("test value");
        r
    }

    fn form(fields: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in fields {
            out.extend(format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes());
        }
        out.extend(b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nfile bytes");
        out
    }

    #[tokio::test]
    async fn the_fields_before_the_file_are_read_from_the_prefix() {
        let fields = fields_before_file(form(&[("Key", "a"), ("acl", "public-read")]).into(), "B").await;
        assert_eq!(fields, Ok(vec![("key".into(), "a".into()), ("acl".into(), "public-read".into())]));
        let mut cut = form(&[("key", "a")]);
        cut.truncate(30);
        assert_eq!(fields_before_file(cut.into(), "B").await, Err(Unreadable::Malformed));
        let big = "x".repeat(MAX_POST_PRE_DATA_BYTES);
        let prefix = FormPrefix::default();
        prefix.keep(&form(&[("x-ignore-pad", &big)]));
        assert_eq!(prefix.bytes().len(), MAX_POST_PRE_DATA_BYTES, "the prefix keeps no more than the limit");
        assert_eq!(fields_before_file(prefix.bytes(), "B").await, Err(Unreadable::TooLarge));
    }

    #[test]
    fn the_boundary_is_read_quoted_or_not() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("multipart/form-data; boundary=\"a b\""),
        );
        assert_eq!(boundary_of(&headers).as_deref(), Some("a b"));
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("multipart/form-data;BOUNDARY=xyz"));
        assert_eq!(boundary_of(&headers).as_deref(), Some("xyz"));
    }

    #[test]
    fn only_failed_conditions_are_found() {
        let failed = error(400, "InvalidPolicyDocument", "Policy condition 'eq' for field 'acl' failed");
        assert_eq!(failed_condition(&failed).as_deref(), Some("Policy condition 'eq' for field 'acl' failed"));
        let malformed = error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.");
        assert_eq!(failed_condition(&malformed), None);
        let other = error(403, "InvalidPolicyDocument", "Policy condition 'eq' for field 'acl' failed");
        assert_eq!(failed_condition(&other), None);
    }
}
