//! Pure functions behind the console's pages: path and breadcrumb splitting, human-readable sizes and
//! dates, names with their invisible bidi controls made visible, paging state, multipart part plans,
//! bucket-name rules, sorting, UTF-8 text previews, the access-key form and password-change rules. No
//! browser APIs here, so everything is tested natively.

use std::cmp::Ordering;

/// Files of this size or larger go up as multipart uploads through presigned part URLs.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Size of every part but the last in a multipart upload.
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Objects per page in the object browser.
pub const PAGE_SIZE: u32 = 100;

/// One breadcrumb: the label shown and the prefix it opens (`""` is the bucket root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crumb {
    /// The folder name as stored (render it through [`visible_name`]).
    pub label: String,
    /// The prefix that lists this folder (ends with `/`, or is empty for the root).
    pub prefix: String,
}

/// The breadcrumbs for `prefix` inside `bucket`: the bucket root first, then one per folder level.
/// `"a/b/"` gives `[bucket → "", a → "a/", b → "a/b/"]`. Empty path segments (`a//b/`) are kept as
/// folders, since S3 keys may contain them.
pub fn breadcrumbs(bucket: &str, prefix: &str) -> Vec<Crumb> {
    let mut out = vec![Crumb { label: bucket.to_string(), prefix: String::new() }];
    let mut acc = String::new();
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if prefix.is_empty() {
        return out;
    }
    for part in trimmed.split('/') {
        acc.push_str(part);
        acc.push('/');
        out.push(Crumb { label: part.to_string(), prefix: acc.clone() });
    }
    out
}

/// The part of `key` below `prefix` (what the browser shows as the name in a folder).
pub fn name_in_folder<'a>(prefix: &str, key: &'a str) -> &'a str {
    key.strip_prefix(prefix).unwrap_or(key)
}

/// The display name of a folder prefix: `"a/b/"` → `"b/"`.
pub fn folder_label<'a>(prefix: &str, folder: &'a str) -> &'a str {
    name_in_folder(prefix, folder)
}

/// `true` for the bidi and zero-width controls that can make a name look like another one.
pub fn is_hidden_control(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}' // LRE RLE PDF LRO RLO
        | '\u{2066}'..='\u{2069}' // LRI RLI FSI PDI
        | '\u{061C}'              // Arabic letter mark
        | '\u{FEFF}')
        || (c.is_control())
}

/// The name as it must be displayed: every bidi/zero-width/control character is replaced by a
/// visible `<U+XXXX>` marker, so `"evil\u{202E}txt.exe"` cannot pose as `"evilexe.txt"`.
pub fn visible_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if is_hidden_control(c) {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Sizes as people read them, in binary units: `0 B`, `1023 B`, `1.0 KiB`, `30.0 MiB`, `1.50 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit >= 2 && value < 10.0 {
        format!("{value:.2} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A unix time in milliseconds as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_time_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// Howard Hinnant's days-since-epoch to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A short type label from a content type, or from the name's extension when the type is generic.
pub fn type_label(content_type: Option<&str>, key: &str) -> String {
    match content_type {
        Some(ct) if !ct.is_empty() && ct != "application/octet-stream" && ct != "binary/octet-stream" => {
            ct.split(';').next().unwrap_or(ct).trim().to_string()
        }
        _ => match key.rsplit_once('.') {
            Some((_, ext)) if !ext.is_empty() && ext.len() <= 8 && !ext.contains('/') => {
                format!("{} file", ext.to_ascii_uppercase())
            }
            _ => "file".to_string(),
        },
    }
}

/// What the details panel can preview, or `None`. Nothing is ever rendered as the console's own page:
/// images go in an `<img>` (presigned URL on the S3 origin), text is fetched and shown as a text node
/// in a `<pre>`, PDFs open in a new tab on the S3 origin (Chrome does not render PDFs in sandboxed
/// iframes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewKind {
    /// `<img>`.
    Image,
    /// Fetched, decoded as UTF-8, shown as text (HTML too: as its source).
    Text,
    /// Opened in a new tab (`noopener noreferrer`) on the presigned inline URL.
    Pdf,
}

/// The preview kind for an object's content type.
pub fn preview_kind(content_type: &str) -> Option<PreviewKind> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ct.starts_with("image/") && ct != "image/svg+xml" {
        Some(PreviewKind::Image)
    } else if ct == "application/pdf" {
        Some(PreviewKind::Pdf)
    } else if ct.starts_with("text/")
        || matches!(ct.as_str(), "application/json" | "application/xml" | "application/x-yaml" | "application/yaml")
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
    {
        Some(PreviewKind::Text)
    } else {
        None
    }
}

/// Bytes of a text object fetched for its preview (a `Range` request).
pub const TEXT_PREVIEW_BYTES: u64 = 256 * 1024;

/// A text preview: the decoded text and whether it is only the start of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPreview {
    /// The text (UTF-8; invalid sequences become U+FFFD).
    pub text: String,
    /// `true` when the object is longer than what is shown.
    pub truncated: bool,
}

/// Decode the first bytes of a text object as UTF-8. At most `limit` bytes are used (a server that
/// ignored the `Range` header sends everything); when the object is cut, a multi-byte character split
/// at the cut is dropped rather than shown as U+FFFD. A leading byte-order mark is removed.
pub fn text_preview(bytes: &[u8], object_size: u64, limit: u64) -> TextPreview {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut shown = &bytes[..bytes.len().min(limit)];
    let truncated = (shown.len() as u64) < object_size;
    if truncated {
        // Drop an incomplete sequence at the end: walk back over up to 3 continuation bytes to the
        // lead byte, and cut there when the sequence it starts is longer than what is left.
        let len = shown.len();
        let mut i = len;
        while i > 0 && len - i < 3 && (shown[i - 1] & 0xC0) == 0x80 {
            i -= 1;
        }
        if i > 0 {
            let lead = shown[i - 1];
            let need = match lead {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            if len - (i - 1) < need {
                shown = &shown[..i - 1];
            }
        }
    }
    let shown = shown.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(shown);
    TextPreview { text: String::from_utf8_lossy(shown).into_owned(), truncated }
}

/// Why a bucket name is refused (the S3 rules), or `None` when it is valid.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Some("must be 3 to 63 characters long");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        return Some("may contain only lowercase letters, digits, hyphens and dots");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[len - 1];
    if !(first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()) {
        return Some("must start and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Some("may not have two dots, or a dot next to a hyphen");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some("may not look like an IP address");
    }
    if name.starts_with("xn--") || name.ends_with("-s3alias") {
        return Some("may not start with xn-- or end with -s3alias");
    }
    None
}

/// Why a folder name is refused, or `None`.
pub fn folder_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("enter a name")
    } else if name.contains('/') {
        Some("may not contain /")
    } else if name == "." || name == ".." {
        Some("may not be . or ..")
    } else {
        None
    }
}

/// Paging through a folder with the API's `after` / `next_after` tokens: the token of every page
/// visited so far is kept, so Previous never re-scans from the start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paging {
    /// `after` of each visited page; page 0 has none.
    afters: Vec<Option<String>>,
    /// Index of the shown page.
    index: usize,
}

impl Paging {
    /// Paging at the first page.
    pub fn new() -> Self {
        Self { afters: vec![None], index: 0 }
    }

    /// The `after` token to request the shown page with.
    pub fn after(&self) -> Option<String> {
        self.afters.get(self.index).cloned().flatten()
    }

    /// Zero-based number of the shown page.
    pub fn page(&self) -> usize {
        self.index
    }

    /// Whether Previous is possible.
    pub fn has_previous(&self) -> bool {
        self.index > 0
    }

    /// Go to the next page, whose `after` is the shown page's `next_after`.
    pub fn next(&mut self, next_after: &str) {
        self.afters.truncate(self.index + 1);
        self.afters.push(Some(next_after.to_string()));
        self.index += 1;
    }

    /// Back one page (no-op on the first).
    pub fn previous(&mut self) {
        if self.index > 0 {
            self.index -= 1;
        }
    }

    /// Back to the first page (a new folder or search).
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

/// One part of a multipart plan: its number (from 1) and byte range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRange {
    /// S3 part number, 1-based.
    pub number: u32,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// How a file of `size` bytes is uploaded: one PUT below the threshold, else parts of `part_size`
/// (grown when needed so that no more than 10,000 parts are used).
pub fn plan_parts(size: u64, part_size: u64) -> Vec<PartRange> {
    let mut part = part_size.max(5 * 1024 * 1024);
    while size.div_ceil(part) > 10_000 {
        part *= 2;
    }
    let count = size.div_ceil(part).max(1);
    (0..count).map(|i| PartRange { number: i as u32 + 1, start: i * part, end: ((i + 1) * part).min(size) }).collect()
}

/// Parts of one multipart file PUT at the same time.
pub const PARALLEL_PARTS: usize = 4;
/// Part numbers asked for in one `multipart/{id}/parts` call.
pub const PART_URL_BATCH: usize = 16;
/// Retries of a failed part (each with a fresh presigned URL) before its file fails.
pub const PART_RETRIES: u32 = 3;
/// A presigned part URL this close to its expiry (seconds) is not used for a new PUT.
pub const PART_URL_MARGIN_SECS: i64 = 60;

/// Where one part of a multipart upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartState {
    /// Not started, or waiting for a retry.
    Pending,
    /// Its PUT is in flight.
    InFlight,
    /// Uploaded; the ETag its PUT answered.
    Done(String),
}

/// The scheduling of one multipart upload's parts: which to start, retries, and the `complete` list.
#[derive(Debug, Clone, PartialEq)]
pub struct PartSchedule {
    parts: Vec<PartRange>,
    states: Vec<PartState>,
    failures: Vec<u32>,
}

impl PartSchedule {
    /// All parts of `plan` pending.
    pub fn new(plan: Vec<PartRange>) -> Self {
        let n = plan.len();
        Self { parts: plan, states: vec![PartState::Pending; n], failures: vec![0; n] }
    }

    fn index(&self, number: u32) -> Option<usize> {
        self.parts.iter().position(|p| p.number == number)
    }

    /// The part with this number.
    pub fn part(&self, number: u32) -> Option<PartRange> {
        self.index(number).map(|i| self.parts[i])
    }

    /// Parts in flight.
    pub fn in_flight(&self) -> usize {
        self.states.iter().filter(|s| **s == PartState::InFlight).count()
    }

    /// The parts to start now so that at most `max_in_flight` run: the lowest-numbered pending ones.
    pub fn next_to_start(&self, max_in_flight: usize) -> Vec<u32> {
        let room = max_in_flight.saturating_sub(self.in_flight());
        self.parts
            .iter()
            .zip(&self.states)
            .filter(|(_, s)| **s == PartState::Pending)
            .map(|(p, _)| p.number)
            .take(room)
            .collect()
    }

    /// The part numbers to ask presigned URLs for when `number` is about to start without one: it and
    /// the next pending parts (in part order) that have no usable URL either, `batch` at most.
    pub fn url_batch(&self, number: u32, has_url: impl Fn(u32) -> bool, batch: usize) -> Vec<u32> {
        let mut out = vec![number];
        for (p, s) in self.parts.iter().zip(&self.states) {
            if out.len() >= batch.max(1) {
                break;
            }
            if *s == PartState::Pending && p.number != number && !has_url(p.number) {
                out.push(p.number);
            }
        }
        out
    }

    /// Mark a part's PUT as started.
    pub fn start(&mut self, number: u32) {
        if let Some(i) = self.index(number) {
            self.states[i] = PartState::InFlight;
        }
    }

    /// Record a part's ETag.
    pub fn finish(&mut self, number: u32, etag: String) {
        if let Some(i) = self.index(number) {
            self.states[i] = PartState::Done(etag);
        }
    }

    /// Record a failed PUT: answers `true` when the part goes back to pending for a retry (its
    /// `retries`-th), `false` when its retries are used up and the file fails.
    pub fn fail(&mut self, number: u32, retries: u32) -> bool {
        let Some(i) = self.index(number) else { return false };
        self.failures[i] += 1;
        if self.failures[i] > retries {
            return false;
        }
        self.states[i] = PartState::Pending;
        true
    }

    /// Failed attempts of a part so far.
    pub fn failures(&self, number: u32) -> u32 {
        self.index(number).map(|i| self.failures[i]).unwrap_or(0)
    }

    /// Bytes of the parts done.
    pub fn done_bytes(&self) -> u64 {
        self.parts
            .iter()
            .zip(&self.states)
            .filter(|(_, s)| matches!(s, PartState::Done(_)))
            .map(|(p, _)| p.end - p.start)
            .sum()
    }

    /// When every part is done: `(part number, ETag)` in part-number order, for `complete`.
    pub fn completed(&self) -> Option<Vec<(u32, String)>> {
        let mut out: Vec<(u32, String)> = self
            .parts
            .iter()
            .zip(&self.states)
            .map(|(p, s)| match s {
                PartState::Done(etag) => Some((p.number, etag.clone())),
                _ => None,
            })
            .collect::<Option<_>>()?;
        out.sort_by_key(|(n, _)| *n);
        Some(out)
    }
}

/// Bytes of a file shown as sent: the confirmed bytes plus what the PUTs in flight report
/// (`upload.onprogress` `loaded` values), never more than the file's `size`.
pub fn upload_progress(confirmed: u64, in_flight_loaded: impl IntoIterator<Item = f64>, size: u64) -> u64 {
    let flying: f64 = in_flight_loaded.into_iter().map(|v| v.max(0.0)).sum();
    confirmed.saturating_add(flying as u64).min(size)
}

/// Whether a presigned URL expiring at `expires_at` (unix seconds, 0 when unknown) can still be used at
/// `now_secs` for a PUT.
pub fn url_usable(expires_at: i64, now_secs: i64) -> bool {
    expires_at == 0 || now_secs + PART_URL_MARGIN_SECS < expires_at
}

/// Wait before the `failures`-th retry of a part: 0.5 s, 1 s, 2 s, … (at most 8 s).
pub fn retry_delay_ms(failures: u32) -> u32 {
    500u32.saturating_mul(1 << failures.saturating_sub(1).min(4))
}

/// The `Content-MD5` header value of `bytes`: the base64 of their MD5.
pub fn content_md5(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use md5::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

/// Whether a file of this size goes up as a multipart upload.
pub fn use_multipart(size: u64) -> bool {
    size >= MULTIPART_THRESHOLD
}

/// Percentage (0..=100) of `done` out of `total`; an empty total counts as complete only when `done`.
pub fn percent(done: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (done as f64 * 100.0 / total as f64).clamp(0.0, 100.0)
}

/// The object key for an uploaded file: the folder prefix plus the file's relative path (folder
/// uploads) or its name. Backslashes from some platforms become `/`; leading `/` are dropped.
pub fn upload_key(prefix: &str, relative_path: &str, name: &str) -> String {
    let rel = if relative_path.is_empty() { name } else { relative_path };
    let rel = rel.replace('\\', "/");
    format!("{prefix}{}", rel.trim_start_matches('/'))
}

/// Sort column of the object table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// By key.
    Name,
    /// By size.
    Size,
    /// By last-modified time.
    Modified,
    /// By type label.
    Type,
}

/// The fields the object table sorts on.
pub trait Sortable {
    /// The key.
    fn sort_name(&self) -> &str;
    /// The size in bytes.
    fn sort_size(&self) -> u64;
    /// The modification time (unix ms).
    fn sort_modified(&self) -> i64;
    /// The type label.
    fn sort_type(&self) -> String;
}

/// Sort one page of rows in place (sorting is within the shown page: the server pages by key).
pub fn sort_rows<T: Sortable>(rows: &mut [T], key: SortKey, ascending: bool) {
    rows.sort_by(|a, b| {
        let ord = match key {
            SortKey::Name => a.sort_name().cmp(b.sort_name()),
            SortKey::Size => a.sort_size().cmp(&b.sort_size()),
            SortKey::Modified => a.sort_modified().cmp(&b.sort_modified()),
            SortKey::Type => a.sort_type().cmp(&b.sort_type()),
        };
        let ord = if ord == Ordering::Equal { a.sort_name().cmp(b.sort_name()) } else { ord };
        if ascending { ord } else { ord.reverse() }
    });
}

/// Percent-encode a query value or path segment (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, SET).to_string()
}

/// The aws-cli and rclone snippets shown with a new access key.
pub fn client_snippets(endpoint: &str, region: &str, key_id: &str, secret: &str) -> (String, String) {
    let aws = format!(
        "export AWS_ACCESS_KEY_ID={key_id}\nexport AWS_SECRET_ACCESS_KEY={secret}\n\
         export AWS_DEFAULT_REGION={region}\naws --endpoint-url {endpoint} s3 ls"
    );
    let rclone = format!(
        "[cloudvault]\ntype = s3\nprovider = Minio\naccess_key_id = {key_id}\nsecret_access_key = {secret}\n\
         endpoint = {endpoint}\nregion = {region}"
    );
    (aws, rclone)
}

/// Longest access-key lifetime the API accepts, in days.
pub const MAX_KEY_EXPIRY_DAYS: u32 = 3650;

/// The access-key creation form: optional expiry, optional bucket restriction, read-only or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyForm {
    /// Days until the key expires as typed; empty for a key that never expires.
    pub expires_in_days: String,
    /// Restrict the key to [`KeyForm::buckets`].
    pub restrict: bool,
    /// The buckets picked (in the order picked).
    pub buckets: Vec<String>,
    /// Reads only (`access: "read"`).
    pub read_only: bool,
}

impl KeyForm {
    /// Pick or unpick a bucket.
    pub fn toggle_bucket(&mut self, name: &str, on: bool) {
        self.buckets.retain(|b| b != name);
        if on {
            self.buckets.push(name.to_string());
        }
    }

    /// The expiry in days, `None` for never, or why the text is refused.
    pub fn expiry_days(&self) -> Result<Option<u32>, &'static str> {
        let t = self.expires_in_days.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match t.parse::<u32>() {
            Ok(d) if (1..=MAX_KEY_EXPIRY_DAYS).contains(&d) => Ok(Some(d)),
            _ => Err("The expiry is a whole number of days from 1 to 3650 (empty: never)."),
        }
    }

    /// Why the form cannot be sent, or `None`.
    pub fn problem(&self) -> Option<&'static str> {
        if let Err(p) = self.expiry_days() {
            return Some(p);
        }
        if self.restrict && self.buckets.is_empty() {
            return Some("Pick at least one bucket, or allow all buckets.");
        }
        None
    }

    /// The `POST /api/keys` body: only the fields that restrict anything.
    pub fn body(&self) -> Result<serde_json::Value, &'static str> {
        if let Some(p) = self.problem() {
            return Err(p);
        }
        let mut body = serde_json::Map::new();
        if let Some(d) = self.expiry_days()? {
            body.insert("expires_in_days".into(), d.into());
        }
        if self.restrict {
            body.insert("buckets".into(), self.buckets.clone().into());
        }
        body.insert("access".into(), if self.read_only { "read" } else { "readwrite" }.into());
        Ok(serde_json::Value::Object(body))
    }
}

/// A key's bucket restriction as shown in the key list (names made visible).
pub fn key_buckets_label(buckets: Option<&[String]>) -> String {
    match buckets {
        None => "All buckets".to_string(),
        Some([]) => "No buckets".to_string(),
        Some(list) => list.iter().map(|b| visible_name(b)).collect::<Vec<_>>().join(", "),
    }
}

/// A key's access as shown in the key list (`read` / `readwrite`, missing means read-write).
pub fn key_access_label(access: Option<&str>) -> &'static str {
    match access {
        Some("read") => "Read-only",
        _ => "Read & write",
    }
}

/// A unix time from the API as milliseconds: numbers above 10^11 are already milliseconds, smaller
/// ones are seconds; anything else (null, text) is `None`.
pub fn unix_ms(v: &serde_json::Value) -> Option<i64> {
    let n = v.as_i64()?;
    Some(if n > 100_000_000_000 { n } else { n * 1000 })
}

/// A key's expiry: `"Never"`, `"<date> (in 30 days)"`, or `"Expired <date>"`; plus whether it expired.
pub fn expiry_label(expires_at_ms: Option<i64>, now_ms: i64) -> (String, bool) {
    let Some(at) = expires_at_ms else { return ("Never".to_string(), false) };
    let left = at - now_ms;
    if left <= 0 {
        return (format!("Expired {}", format_time_ms(at)), true);
    }
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    let rel = if left >= DAY {
        let d = (left + DAY / 2) / DAY;
        if d == 1 { "in 1 day".to_string() } else { format!("in {d} days") }
    } else if left >= HOUR {
        let h = left / HOUR;
        if h == 1 { "in 1 hour".to_string() } else { format!("in {h} hours") }
    } else {
        "in under an hour".to_string()
    };
    (format!("{} ({rel})", format_time_ms(at)), false)
}

/// Minimum password length the API accepts (`weak_password` below it).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why the change-password form cannot be sent yet, or `None`.
pub fn password_change_problem(current: &str, new: &str, confirm: &str) -> Option<&'static str> {
    if current.is_empty() {
        Some("Enter your current password.")
    } else if new.chars().count() < MIN_PASSWORD_CHARS {
        Some("The new password needs at least 8 characters.")
    } else if new != confirm {
        Some("The two new passwords differ.")
    } else if new == current {
        Some("The new password is the same as the current one.")
    } else {
        None
    }
}

/// The inline message for a refused password change (`forbidden`: the current password is wrong;
/// `weak_password`: the server's reason).
pub fn password_change_error(code: &str, message: &str) -> String {
    match code {
        "forbidden" => "The current password is wrong.".to_string(),
        "weak_password" if !message.is_empty() => format!("The new password is too weak: {message}"),
        "weak_password" => "The new password is too weak.".to_string(),
        _ if message.is_empty() => format!("The password could not be changed ({code})."),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_is_base64_of_the_digest() {
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(content_md5(b"hello"), "XUFAKrxLKna5cZ2REBfFkg==");
    }

    #[test]
    fn breadcrumbs_split_folders() {
        let c = breadcrumbs("photos", "2026/cats/");
        let got: Vec<(&str, &str)> = c.iter().map(|c| (c.label.as_str(), c.prefix.as_str())).collect();
        assert_eq!(got, vec![("photos", ""), ("2026", "2026/"), ("cats", "2026/cats/")]);
        assert_eq!(breadcrumbs("b", "").len(), 1);
        let odd = breadcrumbs("b", "a//x/");
        assert_eq!(odd.iter().map(|c| c.prefix.as_str()).collect::<Vec<_>>(), vec!["", "a/", "a//", "a//x/"]);
    }

    #[test]
    fn names_relative_to_folder() {
        assert_eq!(name_in_folder("a/b/", "a/b/c.txt"), "c.txt");
        assert_eq!(folder_label("a/", "a/b/"), "b/");
        assert_eq!(name_in_folder("x/", "other"), "other");
    }

    #[test]
    fn bidi_controls_are_made_visible() {
        assert_eq!(visible_name("evil\u{202E}txt.exe"), "evil<U+202E>txt.exe");
        assert_eq!(visible_name("a\u{2066}b\u{2069}\u{200E}\u{200F}"), "a<U+2066>b<U+2069><U+200E><U+200F>");
        assert_eq!(visible_name("tab\there\n"), "tab<U+0009>here<U+000A>");
        assert_eq!(visible_name("<img src=x onerror=alert(1)>.txt"), "<img src=x onerror=alert(1)>.txt");
        assert_eq!(visible_name("日本語 ok"), "日本語 ok");
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(30 * 1024 * 1024), "30.0 MiB");
        assert_eq!(human_size(1536 * 1024 * 1024), "1.50 GiB");
        assert_eq!(human_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn times_format_in_utc() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time_ms(1_767_225_600_000 + 3_723_000), "2026-01-01 01:02 UTC");
        assert_eq!(format_time_ms(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn types_and_previews() {
        assert_eq!(type_label(Some("text/plain; charset=utf-8"), "a.txt"), "text/plain");
        assert_eq!(type_label(Some("application/octet-stream"), "x.tar.gz"), "GZ file");
        assert_eq!(type_label(None, "README"), "file");
        assert_eq!(preview_kind("image/png"), Some(PreviewKind::Image));
        assert_eq!(preview_kind("image/svg+xml"), Some(PreviewKind::Text)); // its source, as text
        assert_eq!(preview_kind("text/html"), Some(PreviewKind::Text));
        assert_eq!(preview_kind("text/plain; charset=iso-8859-1"), Some(PreviewKind::Text));
        assert_eq!(preview_kind("application/json"), Some(PreviewKind::Text));
        assert_eq!(preview_kind("application/ld+json"), Some(PreviewKind::Text));
        assert_eq!(preview_kind("Application/PDF"), Some(PreviewKind::Pdf));
        assert_eq!(preview_kind("application/zip"), None);
        assert_eq!(preview_kind(""), None);
    }

    #[test]
    fn bucket_names() {
        assert_eq!(bucket_name_problem("photos-2026"), None);
        assert_eq!(bucket_name_problem("my.bucket"), None);
        assert!(bucket_name_problem("ab").is_some());
        assert!(bucket_name_problem("Bad_Name").is_some());
        assert!(bucket_name_problem("-abc").is_some());
        assert!(bucket_name_problem("a..b").is_some());
        assert!(bucket_name_problem("192.168.1.1").is_some());
        assert!(bucket_name_problem(&"a".repeat(64)).is_some());
        assert_eq!(folder_name_problem("docs"), None);
        assert!(folder_name_problem("a/b").is_some());
        assert!(folder_name_problem("").is_some());
    }

    #[test]
    fn paging_keeps_tokens() {
        let mut p = Paging::new();
        assert_eq!((p.page(), p.after(), p.has_previous()), (0, None, false));
        p.next("k100");
        p.next("k200");
        assert_eq!((p.page(), p.after()), (2, Some("k200".to_string())));
        p.previous();
        assert_eq!(p.after(), Some("k100".to_string()));
        p.next("k200b");
        assert_eq!(p.after(), Some("k200b".to_string()));
        p.previous();
        p.previous();
        p.previous();
        assert_eq!((p.page(), p.after()), (0, None));
        p.next("z");
        p.reset();
        assert_eq!(p, Paging::new());
    }

    #[test]
    fn part_plans() {
        let mib = 1024 * 1024;
        let plan = plan_parts(30 * mib, PART_SIZE);
        assert_eq!(plan.len(), 4);
        assert_eq!(plan[0], PartRange { number: 1, start: 0, end: 8 * mib });
        assert_eq!(plan[3], PartRange { number: 4, start: 24 * mib, end: 30 * mib });
        assert_eq!(plan_parts(0, PART_SIZE), vec![PartRange { number: 1, start: 0, end: 0 }]);
        let huge = plan_parts(200 * 1024 * mib, PART_SIZE);
        assert!(huge.len() <= 10_000);
        assert_eq!(huge.last().map(|p| p.end), Some(200 * 1024 * mib));
        assert!(use_multipart(16 * mib) && !use_multipart(16 * mib - 1));
        assert_eq!(percent(5, 10), 50.0);
        assert_eq!(percent(0, 0), 0.0);
    }

    #[test]
    fn part_schedule_keeps_four_in_flight_in_order() {
        let mib = 1024 * 1024;
        let mut s = PartSchedule::new(plan_parts(60 * mib, PART_SIZE));
        assert_eq!(s.next_to_start(PARALLEL_PARTS), vec![1, 2, 3, 4]);
        for n in [1, 2, 3, 4] {
            s.start(n);
        }
        assert_eq!(s.in_flight(), 4);
        assert!(s.next_to_start(PARALLEL_PARTS).is_empty());
        s.finish(3, "e3".into());
        assert_eq!(s.next_to_start(PARALLEL_PARTS), vec![5]);
        s.start(5);
        // A failed part goes back first, ahead of higher-numbered pending parts.
        assert!(s.fail(1, PART_RETRIES));
        assert_eq!(s.next_to_start(PARALLEL_PARTS), vec![1]);
        assert_eq!(s.done_bytes(), 8 * mib);
        assert_eq!(s.completed(), None);
        for n in 1..=8 {
            s.finish(n, format!("e{n}"));
        }
        let done = s.completed().expect("all parts done");
        assert_eq!(done.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
        assert_eq!(done[2].1, "e3");
        assert_eq!(s.done_bytes(), 60 * mib);
        assert!(s.next_to_start(PARALLEL_PARTS).is_empty());
    }

    #[test]
    fn part_retries_run_out() {
        let mut s = PartSchedule::new(plan_parts(20 * 1024 * 1024, PART_SIZE));
        for attempt in 1..=PART_RETRIES {
            s.start(2);
            assert!(s.fail(2, PART_RETRIES), "retry {attempt}");
            assert_eq!(s.failures(2), attempt);
        }
        s.start(2);
        assert!(!s.fail(2, PART_RETRIES));
        assert!(!s.fail(99, PART_RETRIES));
        assert_eq!(s.part(2).map(|p| p.number), Some(2));
        assert_eq!(retry_delay_ms(1), 500);
        assert_eq!(retry_delay_ms(3), 2000);
        assert_eq!(retry_delay_ms(30), 8000);
    }

    #[test]
    fn part_urls_come_in_batches() {
        let mut s = PartSchedule::new(plan_parts(400 * 1024 * 1024, PART_SIZE));
        assert_eq!(s.url_batch(1, |_| false, PART_URL_BATCH), (1..=16).collect::<Vec<_>>());
        for n in 1..=16 {
            s.start(n);
        }
        // Parts in flight or with a URL already are skipped; a retried part leads its batch.
        assert!(s.fail(3, PART_RETRIES));
        assert_eq!(s.url_batch(3, |n| n <= 20, 4), vec![3, 21, 22, 23]);
        assert_eq!(s.url_batch(17, |_| false, 0), vec![17]);
        assert!(url_usable(0, 1_000));
        assert!(url_usable(2_000, 1_000));
        assert!(!url_usable(1_030, 1_000));
    }

    #[test]
    fn progress_sums_parts_in_flight() {
        assert_eq!(upload_progress(16, [1.0, 2.5, 3.0], 100), 22);
        assert_eq!(upload_progress(90, [8.0, 8.0], 100), 100);
        assert_eq!(upload_progress(5, std::iter::empty(), 100), 5);
        assert_eq!(upload_progress(0, [-1.0], 100), 0);
    }

    #[test]
    fn upload_keys() {
        assert_eq!(upload_key("a/", "", "x.txt"), "a/x.txt");
        assert_eq!(upload_key("", "dir/sub/y.bin", "y.bin"), "dir/sub/y.bin");
        assert_eq!(upload_key("p/", "d\\e.txt", "e.txt"), "p/d/e.txt");
    }

    struct Row(&'static str, u64, i64);
    impl Sortable for Row {
        fn sort_name(&self) -> &str {
            self.0
        }
        fn sort_size(&self) -> u64 {
            self.1
        }
        fn sort_modified(&self) -> i64 {
            self.2
        }
        fn sort_type(&self) -> String {
            type_label(None, self.0)
        }
    }

    #[test]
    fn sorting_within_a_page() {
        let mut rows = vec![Row("b.txt", 5, 3), Row("a.png", 9, 1), Row("c.txt", 1, 2)];
        sort_rows(&mut rows, SortKey::Size, false);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec!["a.png", "b.txt", "c.txt"]);
        sort_rows(&mut rows, SortKey::Modified, true);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec!["a.png", "c.txt", "b.txt"]);
        sort_rows(&mut rows, SortKey::Type, true);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec!["a.png", "b.txt", "c.txt"]);
    }

    #[test]
    fn encoding_and_snippets() {
        assert_eq!(encode("a b/#?%é"), "a%20b%2F%23%3F%25%C3%A9");
        let (aws, rclone) = client_snippets("http://s3:9000", "us-east-1", "CVKEY", "sec");
        assert!(aws.contains("--endpoint-url http://s3:9000") && aws.contains("CVKEY"));
        assert!(rclone.contains("endpoint = http://s3:9000") && rclone.contains("secret_access_key = sec"));
    }

    #[test]
    fn text_previews_decode_utf8() {
        let text = "grüße ✓ 日本\n";
        let whole = text_preview(text.as_bytes(), text.len() as u64, TEXT_PREVIEW_BYTES);
        assert_eq!(whole, TextPreview { text: text.to_string(), truncated: false });
        // A byte-order mark is dropped; invalid bytes become U+FFFD.
        let bom = text_preview(b"\xEF\xBB\xBFhi \xFF", 7, 100);
        assert_eq!(bom.text, "hi \u{FFFD}");
        // Cut inside "日" (3 bytes): the partial character is dropped, not shown as U+FFFD.
        let bytes = "ab日本".as_bytes();
        for cut in 3..5 {
            let p = text_preview(&bytes[..cut], bytes.len() as u64, cut as u64);
            assert_eq!((p.text.as_str(), p.truncated), ("ab", true), "cut at {cut}");
        }
        let p = text_preview(&bytes[..5], bytes.len() as u64, 5);
        assert_eq!(p.text, "ab日");
        // A 4-byte character cut after 3 bytes, and the limit applied when the server sent it all.
        let emoji = "x😀".as_bytes();
        assert_eq!(text_preview(&emoji[..4], 5, 4).text, "x");
        let all = "0123456789".as_bytes();
        assert_eq!(text_preview(all, 10, 4), TextPreview { text: "0123".into(), truncated: true });
        assert_eq!(text_preview(b"", 0, 4), TextPreview { text: String::new(), truncated: false });
    }

    #[test]
    fn key_form_bodies() {
        let mut f = KeyForm::default();
        assert_eq!(f.body(), Ok(serde_json::json!({"access": "readwrite"})));
        f.expires_in_days = " 30 ".into();
        f.read_only = true;
        assert_eq!(f.body(), Ok(serde_json::json!({"expires_in_days": 30, "access": "read"})));
        f.restrict = true;
        assert!(f.problem().is_some() && f.body().is_err(), "restricted to no bucket");
        f.toggle_bucket("photos", true);
        f.toggle_bucket("docs", true);
        f.toggle_bucket("photos", false);
        f.toggle_bucket("docs", true);
        assert_eq!(f.body(), Ok(serde_json::json!({"expires_in_days": 30, "buckets": ["docs"], "access": "read"})));
        for bad in ["0", "3651", "1.5", "-2", "soon"] {
            f.expires_in_days = bad.into();
            assert!(f.problem().is_some(), "{bad} accepted");
        }
        f.expires_in_days = "3650".into();
        assert_eq!(f.expiry_days(), Ok(Some(3650)));
    }

    #[test]
    fn key_list_labels() {
        assert_eq!(key_buckets_label(None), "All buckets");
        let list = vec!["a-b".to_string(), "x\u{202E}y".to_string()];
        assert_eq!(key_buckets_label(Some(&list)), "a-b, x<U+202E>y");
        assert_eq!(key_access_label(Some("read")), "Read-only");
        assert_eq!(key_access_label(Some("readwrite")), "Read & write");
        assert_eq!(key_access_label(None), "Read & write");
        assert_eq!(unix_ms(&serde_json::json!(1_767_225_600)), Some(1_767_225_600_000));
        assert_eq!(unix_ms(&serde_json::json!(1_767_225_600_000i64)), Some(1_767_225_600_000));
        assert_eq!(unix_ms(&serde_json::Value::Null), None);
        let now = 1_767_225_600_000;
        assert_eq!(expiry_label(None, now), ("Never".to_string(), false));
        assert_eq!(
            expiry_label(Some(now + 30 * 86_400_000), now),
            ("2026-01-31 00:00 UTC (in 30 days)".to_string(), false)
        );
        assert_eq!(expiry_label(Some(now + 86_400_000 - 1000), now).0, "2026-01-01 23:59 UTC (in 23 hours)");
        assert_eq!(expiry_label(Some(now + 86_400_000 + 1000), now).0, "2026-01-02 00:00 UTC (in 1 day)");
        assert_eq!(expiry_label(Some(now + 5 * 3_600_000), now).0, "2026-01-01 05:00 UTC (in 5 hours)");
        assert_eq!(expiry_label(Some(now + 60_000), now).0, "2026-01-01 00:01 UTC (in under an hour)");
        assert_eq!(expiry_label(Some(now), now), ("Expired 2026-01-01 00:00 UTC".to_string(), true));
    }

    #[test]
    fn password_change_rules_and_errors() {
        assert!(password_change_problem("", "a-long-password", "a-long-password").is_some());
        assert!(password_change_problem("old-password", "short", "short").is_some());
        assert!(password_change_problem("old-password", "a-long-password", "a-long-passwor").is_some());
        assert!(password_change_problem("a-long-password", "a-long-password", "a-long-password").is_some());
        assert_eq!(password_change_problem("old-password", "ünïcödé-pw", "ünïcödé-pw"), None);
        assert_eq!(
            password_change_error("forbidden", "The current password is wrong."),
            "The current password is wrong."
        );
        assert_eq!(
            password_change_error("weak_password", "A password needs at least 8 characters."),
            "The new password is too weak: A password needs at least 8 characters."
        );
        assert_eq!(password_change_error("too_many_attempts", "Slow down."), "Slow down.");
        assert_eq!(password_change_error("internal", ""), "The password could not be changed (internal).");
    }
}
