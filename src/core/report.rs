//! The IAM credential report: CSV bytes in, typed records out.
//!
//! The parser reads columns by header name (AWS documents their order, but extra columns have been
//! added over the years), treats every sentinel (`N/A`, `no_information`, `not_supported`) as "no
//! date", and accepts the timestamp and boolean spellings seen in real reports. It is all or
//! nothing: one bad field makes the whole report an error naming its line and column, because a
//! tool that disables credentials must never act on half a report.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The user name AWS gives the root user's row.
pub const ROOT_USER: &str = "<root_account>";

/// Longest field accepted. IAM user names are at most 64 characters and ARNs at most 2,048; a field
/// far beyond that means the file is not a credential report.
pub const MAX_FIELD_BYTES: usize = 4096;

/// The 22 columns of the credential report, in the order AWS writes them.
pub const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

/// Values AWS (and emulators) write instead of a date or a flag.
pub const SENTINELS: [&str; 3] = ["N/A", "no_information", "not_supported"];

/// One row of the credential report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub user: String,
    pub arn: String,
    pub user_creation_time: Option<DateTime<Utc>>,
    /// `None` when the report holds a sentinel (the root row says `not_supported`).
    pub password_enabled: Option<bool>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub password_last_changed: Option<DateTime<Utc>>,
    pub password_next_rotation: Option<DateTime<Utc>>,
    pub mfa_active: Option<bool>,
    /// Access key slots 1 and 2.
    pub access_keys: [AccessKeyColumns; 2],
    /// X.509 signing certificate slots 1 and 2 (parsed for completeness; no rule uses them).
    pub certs: [CertColumns; 2],
}

/// The five columns that describe one access key slot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AccessKeyColumns {
    pub active: Option<bool>,
    /// When the key was created (AWS calls it "rotated": a key is never changed, only replaced).
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used_date: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

/// The two columns that describe one signing certificate slot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CertColumns {
    pub active: Option<bool>,
    pub last_rotated: Option<DateTime<Utc>>,
}

impl Record {
    /// True for the `<root_account>` row.
    pub fn is_root(&self) -> bool {
        self.user == ROOT_USER
    }

    /// True when the user has a console password.
    pub fn has_password(&self) -> bool {
        self.password_enabled == Some(true)
    }
}

impl AccessKeyColumns {
    pub fn is_active(&self) -> bool {
        self.active == Some(true)
    }
}

/// Why a report could not be read. Every variant says where, so the user can open the file there.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("the credential report is empty: expected a header row naming the 22 columns")]
    Empty,
    #[error(
        "the credential report has no column `{column}` in its header (line 1); is this an IAM credential report?"
    )]
    MissingColumn { column: &'static str },
    #[error("the credential report names column `{column}` twice in its header (line 1)")]
    DuplicateColumn { column: String },
    #[error(
        "line {line}, column `{column}`: expected {expected} fields like the header, found {found}"
    )]
    FieldCount {
        line: u64,
        /// The first missing column (short row) or the last expected one (long row).
        column: String,
        expected: u64,
        found: u64,
    },
    #[error("line {line}, column `{column}`: {problem}")]
    Field {
        line: u64,
        column: String,
        problem: String,
    },
    #[error("line {line}: user `{user}` appears twice (first on line {first_line})")]
    DuplicateUser {
        line: u64,
        user: String,
        first_line: u64,
    },
    #[error("line {line}: {problem}")]
    Csv { line: u64, problem: String },
}

impl ReportError {
    fn field(line: u64, column: &str, problem: impl Into<String>) -> Self {
        ReportError::Field {
            line,
            column: column.to_string(),
            problem: problem.into(),
        }
    }
}

/// Parses a whole credential report. Returns every record, or the first error; never a partial
/// result.
pub fn parse(bytes: &[u8]) -> Result<Vec<Record>, ReportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReportError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);

    // One record buffer for the whole file: no allocation per row.
    let mut header = csv::ByteRecord::new();
    if !reader
        .read_byte_record(&mut header)
        .map_err(|e| csv_error(&e))?
    {
        return Err(ReportError::Empty);
    }
    let index = ColumnIndex::from_header(&header)?;
    let expected = header.len() as u64;

    let mut records = Vec::with_capacity(bytes.len() / 250);
    let mut lines = Vec::with_capacity(bytes.len() / 250);
    // Rows are read as text: the csv reader checks a whole row's UTF-8 at once (all-ASCII rows,
    // the usual case, in one pass), so fields need no check of their own. One record buffer for
    // the whole file: no allocation per row.
    let mut row = csv::StringRecord::new();
    let read = (|| {
        while reader
            .read_record(&mut row)
            .map_err(|e| utf8_error(&e, &header).unwrap_or_else(|| csv_error(&e)))?
        {
            let line = row.position().map_or(0, |p| p.line());
            if row.len() == 1 && row.get(0).is_some_and(|f| f.is_empty()) {
                // A blank line (csv yields it as one empty field): nothing to read.
                continue;
            }
            if row.len() as u64 != expected {
                let at = row.len().min(header.len().saturating_sub(1));
                return Err(ReportError::FieldCount {
                    line,
                    column: String::from_utf8_lossy(trim(&header[at])).into_owned(),
                    expected,
                    found: row.len() as u64,
                });
            }
            records.push(index.record(&row, line)?);
            lines.push(line);
        }
        Ok(())
    })();
    // Duplicates are looked for once the rows are read (no copy of each name while reading); a
    // duplicate before a bad row is still the error reported, as it comes first in the file.
    match (first_duplicate(&records, &lines), read) {
        (Some(duplicate), _) => Err(duplicate),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Ok(records),
    }
}

/// The first user (in file order) whose name appeared on an earlier line.
fn first_duplicate(records: &[Record], lines: &[u64]) -> Option<ReportError> {
    let mut seen: HashMap<&str, u64> = HashMap::with_capacity(records.len());
    for (record, &line) in records.iter().zip(lines) {
        if let Some(&first_line) = seen.get(record.user.as_str()) {
            return Some(ReportError::DuplicateUser {
                line,
                user: record.user.clone(),
                first_line,
            });
        }
        seen.insert(&record.user, line);
    }
    None
}

/// A row that is not valid UTF-8, as a field error naming its line and column.
fn utf8_error(e: &csv::Error, header: &csv::ByteRecord) -> Option<ReportError> {
    let csv::ErrorKind::Utf8 { pos, err } = e.kind() else {
        return None;
    };
    let line = pos.as_ref().map_or(0, |p| p.line());
    let column = header.get(err.field()).map_or_else(
        || format!("column {}", err.field() + 1),
        |name| String::from_utf8_lossy(trim(name)).into_owned(),
    );
    Some(ReportError::field(
        line,
        &column,
        format!(
            "not valid UTF-8 (invalid byte after the field's first {} bytes)",
            err.valid_up_to()
        ),
    ))
}

fn csv_error(e: &csv::Error) -> ReportError {
    let line = e.position().map_or(0, |p| p.line());
    ReportError::Csv {
        line,
        problem: e.to_string(),
    }
}

/// Where each required column sits in this report's header.
struct ColumnIndex {
    at: [usize; 22],
}

impl ColumnIndex {
    fn from_header(header: &csv::ByteRecord) -> Result<Self, ReportError> {
        let mut positions: HashMap<&[u8], usize> = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = trim(name);
            if positions.insert(name, i).is_some() && COLUMNS.iter().any(|c| c.as_bytes() == name) {
                return Err(ReportError::DuplicateColumn {
                    column: String::from_utf8_lossy(name).into_owned(),
                });
            }
        }
        let mut at = [0; 22];
        for (slot, column) in at.iter_mut().zip(COLUMNS) {
            *slot = *positions
                .get(column.as_bytes())
                .ok_or(ReportError::MissingColumn { column })?;
        }
        Ok(ColumnIndex { at })
    }

    fn record(&self, row: &csv::StringRecord, line: u64) -> Result<Record, ReportError> {
        // One scan of the whole row for control characters; only a row with one looks for it
        // field by field, to name the column.
        // (A fold rather than `any`: no early exit, so the compiler can test many bytes at once.)
        let suspect = row
            .as_slice()
            .bytes()
            .fold(false, |seen, b| seen | is_suspicious(&b));
        let cell = |n: usize| Cell {
            raw: row.get(self.at[n]).unwrap_or_default(),
            column: COLUMNS[n],
            line,
            suspect,
        };
        let key = |base: usize| -> Result<AccessKeyColumns, ReportError> {
            Ok(AccessKeyColumns {
                active: cell(base).flag()?,
                last_rotated: cell(base + 1).date()?,
                last_used_date: cell(base + 2).date()?,
                last_used_region: cell(base + 3).word()?,
                last_used_service: cell(base + 4).word()?,
            })
        };
        let cert = |base: usize| -> Result<CertColumns, ReportError> {
            Ok(CertColumns {
                active: cell(base).flag()?,
                last_rotated: cell(base + 1).date()?,
            })
        };
        let user = cell(0).text()?;
        if user.is_empty() {
            return Err(ReportError::field(line, "user", "the user name is empty"));
        }
        Ok(Record {
            user,
            arn: cell(1).text()?,
            user_creation_time: cell(2).date()?,
            password_enabled: cell(3).flag()?,
            password_last_used: cell(4).date()?,
            password_last_changed: cell(5).date()?,
            password_next_rotation: cell(6).date()?,
            mfa_active: cell(7).flag()?,
            access_keys: [key(8)?, key(13)?],
            certs: [cert(18)?, cert(20)?],
        })
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// A byte that may start a control character: C0 controls and DEL, or the lead byte of the C1
/// controls' two-byte UTF-8 form (which also starts harmless characters such as `é`).
fn is_suspicious(b: &u8) -> bool {
    *b < 0x20 || *b == 0x7f || *b == 0xc2
}

/// One field of one row, with enough context to say where it is when it is wrong.
struct Cell<'a> {
    raw: &'a str,
    column: &'static str,
    line: u64,
    /// The row holds a byte that may start a control character somewhere.
    suspect: bool,
}

impl<'a> Cell<'a> {
    fn error(&self, problem: impl Into<String>) -> ReportError {
        ReportError::field(self.line, self.column, problem)
    }

    fn str(&self) -> Result<&'a str, ReportError> {
        if self.raw.len() > MAX_FIELD_BYTES {
            return Err(self.error(format!(
                "field is {} bytes long, more than the {MAX_FIELD_BYTES} a credential report field can hold",
                self.raw.len()
            )));
        }
        let s = self.raw.trim_ascii();
        // No IAM name, ARN, date or flag holds a control character; one (a NUL, a newline inside
        // quotes) means the file is binary or corrupt, and a name read from it names no user.
        if self.suspect
            && s.as_bytes().iter().any(is_suspicious)
            && let Some(c) = s.chars().find(|c| c.is_control())
        {
            return Err(self.error(format!(
                "contains the control character {c:?}; a credential report field never does"
            )));
        }
        Ok(s)
    }

    fn text(&self) -> Result<String, ReportError> {
        self.str().map(str::to_string)
    }

    fn is_sentinel(s: &str) -> bool {
        SENTINELS.iter().any(|t| t.eq_ignore_ascii_case(s))
    }

    /// The text of a date or flag field. AWS never leaves one empty (it writes a sentinel), and
    /// reading an empty one as "no date" would age a key from its creation instead of its last
    /// use, so an empty field is an error.
    fn filled(&self, expected: &str) -> Result<&'a str, ReportError> {
        let s = self.str()?;
        if s.is_empty() {
            return Err(self.error(format!(
                "the field is empty; expected {expected}, or N/A, no_information or not_supported"
            )));
        }
        Ok(s)
    }

    /// A timestamp, or `None` for a sentinel.
    fn date(&self) -> Result<Option<DateTime<Utc>>, ReportError> {
        let s = self.filled("an ISO 8601 timestamp")?;
        // AWS's own layout first: it is most fields, and no sentinel has its shape.
        if let Some(t) = aws_layout(s) {
            return Ok(Some(t));
        }
        if Self::is_sentinel(s) {
            return Ok(None);
        }
        parse_timestamp(s).map(Some).ok_or_else(|| {
            self.error(format!(
                "`{s}` is not an ISO 8601 timestamp like 2015-04-16T15:14:00+00:00, nor N/A, no_information or not_supported"
            ))
        })
    }

    /// A boolean in any case, or `None` for a sentinel.
    fn flag(&self) -> Result<Option<bool>, ReportError> {
        let s = self.filled("true or false")?;
        if s.eq_ignore_ascii_case("true") {
            Ok(Some(true))
        } else if s.eq_ignore_ascii_case("false") {
            Ok(Some(false))
        } else if Self::is_sentinel(s) {
            Ok(None)
        } else {
            Err(self.error(format!("`{s}` is not true or false")))
        }
    }

    /// Free text such as a region or service name, or `None` for a sentinel or an empty field
    /// (no rule reads these columns).
    fn word(&self) -> Result<Option<String>, ReportError> {
        let s = self.str()?;
        Ok((!s.is_empty() && !Self::is_sentinel(s)).then(|| s.to_string()))
    }
}

/// Parses the ISO 8601 forms found in credential reports: `+00:00` or `Z`, optional fractional
/// seconds, `T` or a space between date and time.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    aws_layout(s).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The layout AWS writes in every report, `2015-04-16T15:14:00+00:00`, read without the general
/// parser: a report holds tens of thousands of these, and this is most of the parse time.
/// Anything else returns `None` and goes to the general RFC 3339 parser.
fn aws_layout(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 25 || &b[19..] != b"+00:00" || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
    const ROOT: &str = "<root_account>,arn:aws:iam::123456789012:root,2014-01-01T00:00:00+00:00,not_supported,2026-11-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
    const ELISE: &str = "elise,arn:aws:iam::123456789012:user/elise,2015-01-10T09:00:00+00:00,false,N/A,N/A,N/A,false,true,2015-01-10T09:00:00+00:00,2015-04-16T15:14:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";

    fn report(rows: &[&str]) -> String {
        let mut s = String::from(HEADER);
        for r in rows {
            s.push('\n');
            s.push_str(r);
        }
        s.push('\n');
        s
    }

    fn t(s: &str) -> DateTime<Utc> {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn reads_every_column_of_a_user_row() {
        let recs = parse(report(&[ELISE]).as_bytes()).unwrap();
        let e = &recs[0];
        assert_eq!(e.user, "elise");
        assert_eq!(e.arn, "arn:aws:iam::123456789012:user/elise");
        assert_eq!(e.user_creation_time, Some(t("2015-01-10T09:00:00Z")));
        assert_eq!(e.password_enabled, Some(false));
        assert_eq!(e.password_last_used, None);
        assert_eq!(e.mfa_active, Some(false));
        assert_eq!(e.access_keys[0].active, Some(true));
        assert_eq!(
            e.access_keys[0].last_used_date,
            Some(t("2015-04-16T15:14:00Z"))
        );
        assert_eq!(
            e.access_keys[0].last_used_region.as_deref(),
            Some("us-east-1")
        );
        assert_eq!(e.access_keys[0].last_used_service.as_deref(), Some("s3"));
        assert_eq!(e.access_keys[1].active, Some(false));
        assert_eq!(e.certs[0].active, Some(false));
        assert!(!e.is_root());
    }

    #[test]
    fn recognises_the_root_row_and_its_sentinels() {
        let recs = parse(report(&[ROOT, ELISE]).as_bytes()).unwrap();
        assert!(recs[0].is_root());
        assert_eq!(recs[0].password_enabled, None);
        assert_eq!(recs[0].password_last_changed, None);
        assert_eq!(recs[0].mfa_active, Some(true));
        assert!(!recs[1].is_root());
    }

    #[test]
    fn every_sentinel_is_no_date_in_any_date_column() {
        for sentinel in SENTINELS {
            let row = ELISE.replace("2015-04-16T15:14:00+00:00", sentinel);
            let recs = parse(report(&[&row]).as_bytes()).unwrap();
            assert_eq!(recs[0].access_keys[0].last_used_date, None, "{sentinel}");
        }
    }

    #[test]
    fn accepts_z_offsets_and_fractional_seconds() {
        assert_eq!(t("2015-04-16T15:14:00Z"), t("2015-04-16T15:14:00+00:00"));
        assert_eq!(t("2015-04-16T17:14:00+02:00"), t("2015-04-16T15:14:00Z"));
        assert_eq!(
            t("2015-04-16T15:14:00.250Z").timestamp_millis(),
            t("2015-04-16T15:14:00Z").timestamp_millis() + 250
        );
        let row = ELISE.replace("2015-04-16T15:14:00+00:00", "2015-04-16T15:14:00.5Z");
        assert!(parse(report(&[&row]).as_bytes()).is_ok());
    }

    #[test]
    fn the_aws_layout_fast_path_agrees_with_the_general_parser() {
        for text in [
            "2015-04-16T15:14:00+00:00",
            "2000-02-29T23:59:59+00:00",
            "2026-12-31T00:00:00+00:00",
        ] {
            let general = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(aws_layout(text), Some(general), "{text}");
        }
        for bad in [
            "2015-02-30T15:14:00+00:00",
            "2015-04-16T24:00:00+00:00",
            "2015-04-16T15:14:60+00:00",
            "2015-04-16T15:14:0x+00:00",
            "2015-04-16 15:14:00+00:00",
            "2015-04-16T15:14:00+01:00",
        ] {
            assert_eq!(aws_layout(bad), None, "{bad}");
        }
        assert_eq!(parse_timestamp("2015-02-30T15:14:00+00:00"), None);
    }

    #[test]
    fn booleans_in_any_case() {
        let row = ELISE.replace(",false,true,", ",FALSE,TRUE,");
        let recs = parse(report(&[&row]).as_bytes()).unwrap();
        assert_eq!(recs[0].mfa_active, Some(false));
        assert_eq!(recs[0].access_keys[0].active, Some(true));
    }

    #[test]
    fn crlf_and_bom_are_accepted() {
        let text = format!("\u{feff}{}", report(&[ROOT, ELISE]).replace('\n', "\r\n"));
        let recs = parse(text.as_bytes()).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].user, "elise");
    }

    #[test]
    fn columns_are_read_by_name_and_extra_columns_ignored() {
        let mut cols: Vec<&str> = HEADER.split(',').collect();
        let mut vals: Vec<&str> = ELISE.split(',').collect();
        cols.reverse();
        vals.reverse();
        cols.push("some_future_column");
        vals.push("whatever");
        let text = format!("{}\n{}\n", cols.join(","), vals.join(","));
        let recs = parse(text.as_bytes()).unwrap();
        assert_eq!(recs, parse(report(&[ELISE]).as_bytes()).unwrap());
    }

    #[test]
    fn a_missing_column_is_named() {
        let text = report(&[]).replace(",mfa_active", "");
        assert_eq!(
            parse(text.as_bytes()),
            Err(ReportError::MissingColumn {
                column: "mfa_active"
            })
        );
    }

    #[test]
    fn a_bad_date_names_line_and_column() {
        let row = ELISE.replace("2015-04-16T15:14:00+00:00", "16/04/2015");
        let err = parse(report(&[ROOT, &row]).as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3, column `access_key_1_last_used_date`: `16/04/2015` is not an ISO 8601 timestamp like 2015-04-16T15:14:00+00:00, nor N/A, no_information or not_supported"
        );
    }

    #[test]
    fn a_bad_boolean_names_line_and_column() {
        let row = ELISE.replace(",false,true,", ",false,yes,");
        let err = parse(report(&[&row]).as_bytes()).unwrap_err();
        assert!(
            matches!(err, ReportError::Field { line: 2, ref column, .. } if column == "access_key_1_active"),
            "{err}"
        );
    }

    #[test]
    fn a_short_row_names_its_line() {
        let row = ELISE.rsplit_once(',').unwrap().0;
        let err = parse(report(&[ROOT, row]).as_bytes()).unwrap_err();
        assert_eq!(
            err,
            ReportError::FieldCount {
                line: 3,
                column: "cert_2_last_rotated".into(),
                expected: 22,
                found: 21
            }
        );
    }

    #[test]
    fn empty_and_bom_only_files_are_errors() {
        assert_eq!(parse(b""), Err(ReportError::Empty));
        assert_eq!(parse(b"\xEF\xBB\xBF"), Err(ReportError::Empty));
        assert_eq!(parse(b"\n\n"), Err(ReportError::Empty));
    }

    #[test]
    fn duplicate_users_are_an_error() {
        let err = parse(report(&[ELISE, ELISE]).as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            ReportError::DuplicateUser {
                line: 3,
                first_line: 2,
                ..
            }
        ));
    }

    #[test]
    fn the_first_error_in_file_order_is_reported() {
        let bad = ELISE
            .replacen("elise", "bad", 1)
            .replacen("false", "maybe", 1);
        // A duplicate on line 3 comes before the bad flag on line 4.
        let err = parse(report(&[ELISE, ELISE, &bad]).as_bytes()).unwrap_err();
        assert!(
            matches!(err, ReportError::DuplicateUser { line: 3, .. }),
            "{err}"
        );
        // The bad flag on line 3 comes before the duplicate on line 4.
        let err = parse(report(&[ELISE, &bad, ELISE]).as_bytes()).unwrap_err();
        assert!(
            matches!(err, ReportError::Field { line: 3, ref column, .. } if column == "password_enabled"),
            "{err}"
        );
    }

    #[test]
    fn a_control_character_is_found_whatever_else_the_row_holds() {
        // A C1 control (U+0085) in the ARN, in a row that also holds an ordinary accented name.
        let row =
            ELISE
                .replacen("elise", "\u{e9}lise", 1)
                .replacen("user/elise", "user/el\u{85}ise", 1);
        let err = parse(report(&[&row]).as_bytes()).unwrap_err();
        assert!(
            matches!(err, ReportError::Field { line: 2, ref column, .. } if column == "arn"),
            "{err}"
        );
        let clean = ELISE.replacen("elise", "\u{e9}lise", 1);
        assert_eq!(
            parse(report(&[&clean]).as_bytes()).unwrap()[0].user,
            "\u{e9}lise"
        );
    }

    #[test]
    fn non_utf8_is_an_error_naming_the_column() {
        let mut bytes = report(&[]).into_bytes();
        bytes.extend_from_slice(ELISE.replacen("elise", "el\u{fffd}se", 1).as_bytes());
        let pos = bytes
            .windows(3)
            .position(|w| w == "\u{fffd}".as_bytes())
            .unwrap();
        bytes.splice(pos..pos + 3, [0xff]);
        let err = parse(&bytes).unwrap_err();
        assert!(
            matches!(err, ReportError::Field { line: 2, ref column, .. } if column == "user"),
            "{err}"
        );
    }

    #[test]
    fn render_then_parse_round_trips() {
        use crate::testing::report::render;
        let recs = parse(report(&[ROOT, ELISE]).as_bytes()).unwrap();
        assert_eq!(parse(render(&recs).as_bytes()).unwrap(), recs);
    }
}
