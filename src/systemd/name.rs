//! systemd unit names: the parts specifiers expand to (`%n %N %p %P %i %I`)
//! and the escaping that maps a string to an instance name and back
//! (`systemd-escape`, `unit_name_escape` / `unit_name_unescape`).

/// The characters a unit name may hold besides `@` and its type suffix.
fn valid_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b':' | b'-' | b'_' | b'.' | b'\\')
}

/// A service unit's name, split as specifiers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitName {
    /// The full name, `postgresql@15-main.service` (`%n`).
    pub full: String,
    /// The part before `@`, or the name without its suffix (`%p`).
    pub prefix: String,
    /// The part between `@` and the suffix, for a template instance (`%i`);
    /// empty for a template itself.
    pub instance: Option<String>,
}

impl UnitName {
    /// Split a `.service` unit name; `None` for any other name.
    pub fn parse(full: &str) -> Option<UnitName> {
        let (prefix, instance) = split(full)?;
        Some(UnitName {
            full: full.to_owned(),
            prefix: prefix.to_owned(),
            instance: instance.map(str::to_owned),
        })
    }

    /// A template (`foo@.service`): an instance name is still to come.
    pub fn is_template(&self) -> bool {
        self.instance.as_deref() == Some("")
    }

    /// The instance `instance` of this template: `foo@bar.service`.
    pub fn with_instance(&self, instance: &str) -> UnitName {
        UnitName {
            full: format!("{}@{instance}.service", self.prefix),
            prefix: self.prefix.clone(),
            instance: Some(instance.to_owned()),
        }
    }

    /// The template this is an instance of: `foo@.service`.
    pub fn template(&self) -> Option<String> {
        match &self.instance {
            Some(i) if !i.is_empty() => Some(format!("{}@.service", self.prefix)),
            _ => None,
        }
    }
}

/// Whether `full` is a `.service` unit name, as [`UnitName::parse`] reads
/// one.
pub fn is_service_name(full: &str) -> bool {
    split(full).is_some()
}

/// A `.service` unit name's prefix and instance (empty for a template).
fn split(full: &str) -> Option<(&str, Option<&str>)> {
    let stem = full.strip_suffix(".service")?;
    if stem.is_empty() || !stem.bytes().all(|c| valid_char(c) || c == b'@') {
        return None;
    }
    let (prefix, instance) = match stem.split_once('@') {
        Some((prefix, instance)) => {
            if instance.contains('@') {
                return None;
            }
            (prefix, Some(instance))
        }
        None => (stem, None),
    };
    (!prefix.is_empty()).then_some((prefix, instance))
}

/// Whether `instance` can stand between `@` and `.service`.
pub fn valid_instance(instance: &str) -> bool {
    !instance.is_empty() && instance.bytes().all(|c| valid_char(c) || c == b'@')
}

/// `systemd-escape`: `/` becomes `-`; `-`, `\`, a leading `.` and every
/// byte outside the unit-name characters become `\xNN`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, &c) in text.as_bytes().iter().enumerate() {
        if c == b'/' {
            out.push('-');
        } else if c == b'-' || c == b'\\' || !valid_char(c) || (i == 0 && c == b'.') {
            out.push_str(&format!("\\x{c:02x}"));
        } else {
            out.push(c as char);
        }
    }
    out
}

/// The inverse of [`escape`]: `-` is `/` and `\xNN` a byte. `None` when the
/// result is not UTF-8 or an escape is cut short.
pub fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' => out.push(b'/'),
            b'\\' => {
                let hex = text
                    .get(i + 2..i + 4)
                    .filter(|_| bytes.get(i + 1) == Some(&b'x'))?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_as_specifiers_see_them() {
        let plain = UnitName::parse("nginx.service").unwrap();
        assert_eq!((plain.prefix.as_str(), plain.instance), ("nginx", None));
        let template = UnitName::parse("postgresql@.service").unwrap();
        assert!(template.is_template());
        let instance = template.with_instance("15-main");
        assert_eq!(instance.full, "postgresql@15-main.service");
        assert_eq!(instance.template().as_deref(), Some("postgresql@.service"));
        assert!(!instance.is_template());
        for bad in [
            "nginx.socket",
            ".service",
            "@x.service",
            "a@b@c.service",
            "a b.service",
        ] {
            assert_eq!(UnitName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn escaping_round_trips_like_systemd_escape() {
        for (raw, escaped) in [
            ("15/main", "15-main"),
            ("my-app", "my\\x2dapp"),
            (".hidden/x", "\\x2ehidden-x"),
            ("a b", "a\\x20b"),
            ("caf\u{e9}", "caf\\xc3\\xa9"),
        ] {
            assert_eq!(escape(raw), escaped);
            assert_eq!(unescape(escaped).as_deref(), Some(raw));
        }
        assert_eq!(unescape("bad\\x4"), None);
        assert_eq!(unescape("bad\\y41"), None);
        assert!(valid_instance("15-main") && !valid_instance("") && !valid_instance("a/b"));
    }
}
