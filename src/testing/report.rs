//! Records written back out as a credential report in AWS's layout, for fixtures, benchmarks
//! and the fake account. `parse(&render(r)) == r` for every record set.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::core::report::{COLUMNS, Record};

/// Formats a timestamp the way AWS writes it in the report (`2015-04-16T15:14:00+00:00`).
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Renders records as a credential report (header and one row per record).
pub fn render(records: &[Record]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(records.len() * 300 + 400));
    let date = |d: &Option<DateTime<Utc>>| d.as_ref().map_or("N/A".into(), format_timestamp);
    let flag = |f: Option<bool>| {
        match f {
            Some(true) => "true",
            Some(false) => "false",
            None => "not_supported",
        }
        .to_string()
    };
    let word = |w: &Option<String>| w.clone().unwrap_or_else(|| "N/A".into());
    let written = w.write_record(COLUMNS).and_then(|()| {
        for r in records {
            let mut fields: Vec<String> = vec![
                r.user.clone(),
                r.arn.clone(),
                date(&r.user_creation_time),
                flag(r.password_enabled),
                date(&r.password_last_used),
                date(&r.password_last_changed),
                date(&r.password_next_rotation),
                flag(r.mfa_active),
            ];
            for k in &r.access_keys {
                fields.extend([
                    flag(k.active),
                    date(&k.last_rotated),
                    date(&k.last_used_date),
                    word(&k.last_used_region),
                    word(&k.last_used_service),
                ]);
            }
            for c in &r.certs {
                fields.extend([flag(c.active), date(&c.last_rotated)]);
            }
            w.write_record(&fields)?;
        }
        Ok(())
    });
    let bytes = written
        .and_then(|()| w.into_inner().map_err(|e| e.into_error().into()))
        .expect("writing CSV to memory cannot fail");
    String::from_utf8(bytes).expect("the fields are UTF-8")
}
