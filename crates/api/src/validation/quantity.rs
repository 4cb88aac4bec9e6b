//! Resource quantities (`500m`, `1Gi`, `1e3`) as upstream's `resource.Quantity` parses, compares
//! and prints them. Upstream re-encodes every quantity in canonical form (`0.5` → `500m`,
//! `1024Mi` → `1Gi`), and resource lists are first rounded up to milli precision.

use std::cmp::Ordering;

/// Upstream's parse error for a malformed quantity.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Upstream's parse error for an unknown suffix.
pub const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";

/// How a quantity was written, which decides how it is printed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `1e3`, `5E-2`.
    DecimalExponent,
    /// `1Ki`, `5Gi`.
    BinarySI,
    /// `500m`, `1k`, `2`.
    DecimalSI,
}

/// A parsed quantity: `mantissa × 10^scale`, plus the format it was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    scale: i32,
    format: Format,
}

/// The furthest exponent this implementation represents; beyond it a quantity is valid but
/// treated as opaque (kept as written, not compared).
const MAX_SCALE: i32 = 10_000;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Quantity {
    /// Parses a quantity. `Ok(None)` means valid but too large to represent here (upstream keeps
    /// arbitrary precision); `Err` carries upstream's message.
    pub fn parse(s: &str) -> Result<Option<Quantity>, &'static str> {
        if s.is_empty() {
            return Err(FORMAT_ERROR);
        }
        if s == "0" {
            return Ok(Some(Quantity::zero()));
        }
        let (positive, num, denom, suffix) = split(s)?;
        let (base, exponent, format) = interpret(suffix).ok_or(SUFFIX_ERROR)?;
        let mut mantissa: i128 = 0;
        for c in num.bytes().chain(denom.bytes()) {
            let Some(m) = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(c - b'0')))
            else {
                return Ok(None);
            };
            mantissa = m;
        }
        let mut scale = -(denom.len() as i64);
        if base == 10 {
            scale += i64::from(exponent);
        } else {
            let Some(m) = u32::try_from(exponent)
                .ok()
                .and_then(|e| 2i128.checked_pow(e))
                .and_then(|f| mantissa.checked_mul(f))
            else {
                return Ok(None);
            };
            mantissa = m;
        }
        if scale.abs() > i64::from(MAX_SCALE) {
            return Ok(None);
        }
        let mut q = Quantity {
            mantissa: if positive { mantissa } else { -mantissa },
            scale: scale as i32,
            format,
        };
        if q.mantissa != 0 && q.scale < -9 {
            q.round_up_to(-9);
        }
        if q.format == Format::BinarySI && q.mantissa > 0 && q.cmp_int(1) == Ordering::Less {
            q.format = Format::DecimalSI;
        }
        Ok(Some(q))
    }

    /// Zero.
    pub fn zero() -> Quantity {
        Quantity {
            mantissa: 0,
            scale: 0,
            format: Format::DecimalSI,
        }
    }

    /// An integer quantity in decimal format.
    pub fn from_int(v: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(v),
            scale: 0,
            format: Format::DecimalSI,
        }
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.mantissa.signum() as i32
    }

    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        if self.scale >= 0 || self.mantissa == 0 {
            return true;
        }
        match pow10(self.scale.unsigned_abs()) {
            Some(p) => self.mantissa % p == 0,
            None => false,
        }
    }

    /// Whether `self` is a whole multiple of `other`; `None` when out of this type's range.
    pub fn is_multiple_of(&self, other: &Quantity) -> Option<bool> {
        let scale = self.scale.min(other.scale);
        let a = self.at_scale(scale)?;
        let b = other.at_scale(scale)?;
        if b == 0 {
            return Some(false);
        }
        Some(a % b == 0)
    }

    /// Rounds away from zero to `scale` digits (`-3` = milli), as upstream's `RoundUp`.
    pub fn round_up_to(&mut self, scale: i32) {
        if self.scale >= scale {
            return;
        }
        let diff = (scale - self.scale) as u32;
        match pow10(diff) {
            Some(p) => {
                let q = self.mantissa / p;
                let r = self.mantissa % p;
                self.mantissa = if r == 0 {
                    q
                } else {
                    q + self.mantissa.signum()
                };
            }
            None => self.mantissa = self.mantissa.signum(),
        }
        self.scale = scale;
    }

    /// The value scaled to an integer at `scale` if exact.
    fn at_scale(&self, scale: i32) -> Option<i128> {
        if self.scale >= scale {
            pow10((self.scale - scale) as u32).and_then(|p| self.mantissa.checked_mul(p))
        } else {
            let p = pow10((scale - self.scale) as u32)?;
            (self.mantissa % p == 0).then(|| self.mantissa / p)
        }
    }

    fn cmp_int(&self, v: i128) -> Ordering {
        self.cmp_value(&Quantity {
            mantissa: v,
            scale: 0,
            format: Format::DecimalSI,
        })
    }

    /// The sum, in `self`'s format unless `self` is zero (upstream's `Add`); `None` when out
    /// of this type's range.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let scale = self.scale.min(other.scale);
        let mantissa = self.at_scale(scale)?.checked_add(other.at_scale(scale)?)?;
        let format = if self.mantissa == 0 {
            other.format
        } else {
            self.format
        };
        Some(Quantity {
            mantissa,
            scale,
            format,
        })
    }

    /// The difference, in `self`'s format; `None` when out of this type's range.
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        let negated = Quantity {
            mantissa: -other.mantissa,
            ..*other
        };
        let mut d = self.checked_add(&negated)?;
        d.format = self.format;
        Some(d)
    }

    /// Compares the values (formats are ignored).
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        let scale = self.scale.min(other.scale);
        match (self.at_scale(scale), other.at_scale(scale)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self
                .approx()
                .partial_cmp(&other.approx())
                .unwrap_or(Ordering::Equal),
        }
    }

    /// The value in units of `10^scale`, rounded up and saturated to `i64` (upstream's
    /// `ScaledValue`: scale -3 gives milli-units, 0 whole units).
    pub fn scaled_value(&self, scale: i32) -> i64 {
        let v = if self.scale >= scale {
            u32::try_from(self.scale - scale)
                .ok()
                .and_then(pow10)
                .and_then(|p| self.mantissa.checked_mul(p))
                .unwrap_or(if self.mantissa < 0 {
                    i128::MIN
                } else {
                    i128::MAX
                })
        } else {
            match u32::try_from(scale - self.scale).ok().and_then(pow10) {
                Some(p) => {
                    let q = self.mantissa.div_euclid(p);
                    if self.mantissa.rem_euclid(p) != 0 {
                        q + 1
                    } else {
                        q
                    }
                }
                None => i128::from(self.mantissa > 0),
            }
        };
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    fn approx(&self) -> f64 {
        (self.mantissa as f64) * 10f64.powi(self.scale)
    }

    /// The canonical text upstream prints for this quantity.
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        if self.format == Format::BinarySI
            && self.cmp_int(-1024) == Ordering::Greater
            && self.cmp_int(1024) == Ordering::Less
        {
            return self.decimal(Format::DecimalSI);
        }
        if self.format == Format::BinarySI {
            if let Some(mut v) = self.at_scale(0) {
                let mut times = 0;
                while v.unsigned_abs() >= 1024 && v % 1024 == 0 && times < 6 {
                    v /= 1024;
                    times += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][times];
                return format!("{v}{suffix}");
            }
            return self.decimal(Format::DecimalSI);
        }
        self.decimal(self.format)
    }

    fn decimal(&self, format: Format) -> String {
        let mut m = self.mantissa;
        let mut e = i64::from(self.scale);
        while m.unsigned_abs() >= 10 && m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        let adjust = match e % 3 {
            1 | -2 => 1,
            2 | -1 => 2,
            _ => 0,
        };
        if adjust > 0 {
            match pow10(adjust).and_then(|p| m.checked_mul(p)) {
                Some(v) => {
                    m = v;
                    e -= i64::from(adjust);
                }
                None => return format!("{m}e{e}"),
            }
        }
        if format == Format::DecimalSI {
            let suffix = match e {
                -9 => Some("n"),
                -6 => Some("u"),
                -3 => Some("m"),
                0 => Some(""),
                3 => Some("k"),
                6 => Some("M"),
                9 => Some("G"),
                12 => Some("T"),
                15 => Some("P"),
                18 => Some("E"),
                _ => None,
            };
            if let Some(s) = suffix {
                return format!("{m}{s}");
            }
        }
        if e == 0 {
            m.to_string()
        } else {
            format!("{m}e{e}")
        }
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Splits `s` into sign, integer digits, fraction digits and suffix, as upstream's
/// `parseQuantityString` does (leading zeros stripped).
fn split(s: &str) -> Result<(bool, &str, &str, &str), &'static str> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok((positive, "0", "", ""));
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[start..pos];
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let dstart = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[dstart..pos];
        if pos >= end {
            return Ok((positive, num, denom, ""));
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(FORMAT_ERROR);
    }
    Ok((positive, num, denom, &s[suffix_start..]))
}

/// (base, exponent, format) of a suffix.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSI));
    let bin = |e| Some((2, e, Format::BinarySI));
    match suffix {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ => {
            let rest = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            if rest.is_empty() {
                return None;
            }
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e: i64 = rest.parse().ok()?;
            let e =
                i32::try_from(e.clamp(-i64::from(MAX_SCALE) - 1, i64::from(MAX_SCALE) + 1)).ok()?;
            Some((10, e, Format::DecimalExponent))
        }
    }
}

/// The canonical form of `s`, or `s` unchanged when it does not parse (or is out of range).
pub fn canonicalize(s: &str) -> String {
    match Quantity::parse(s) {
        Ok(Some(q)) => q.canonical(),
        _ => s.to_string(),
    }
}

/// The canonical form after rounding up to milli precision, as upstream defaults resource
/// lists (`SetDefaults_ResourceList`).
pub fn canonicalize_resource(s: &str) -> String {
    match Quantity::parse(s) {
        Ok(Some(mut q)) => {
            q.round_up_to(-3);
            q.canonical()
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> String {
        Quantity::parse(s).unwrap().unwrap().canonical()
    }

    #[test]
    fn canonical_forms_match_upstream() {
        for (input, want) in [
            ("0", "0"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1.5", "1500m"),
            ("100m", "100m"),
            ("100M", "100M"),
            ("1500k", "1500k"),
            ("2000", "2k"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1Ki", "1Ki"),
            ("2048Ki", "2Mi"),
            ("1000Mi", "1000Mi"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
            ("1e3", "1e3"),
            ("12e2", "1200"),
            ("1E", "1E"),
            ("-1Ki", "-1Ki"),
            ("-0.5", "-500m"),
            ("+2", "2"),
            ("0.1n", "1n"),
            ("00100", "100"),
            ("1.", "1"),
            (".5", "500m"),
            ("0Gi", "0"),
        ] {
            assert_eq!(c(input), want, "{input}");
        }
    }

    #[test]
    fn resource_lists_round_to_milli() {
        assert_eq!(canonicalize_resource("0.0001"), "1m");
        assert_eq!(canonicalize_resource("100u"), "1m");
        assert_eq!(canonicalize_resource("1500u"), "2m");
        assert_eq!(canonicalize_resource("250m"), "250m");
        assert_eq!(canonicalize_resource("64Mi"), "64Mi");
        assert_eq!(canonicalize_resource("junk"), "junk");
    }

    #[test]
    fn errors_match_upstream() {
        assert_eq!(Quantity::parse(""), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse("abc"), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse("1.2.3"), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse("1 Gi"), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse("1Kx"), Err(FORMAT_ERROR));
        assert_eq!(Quantity::parse("1K"), Err(SUFFIX_ERROR));
        assert_eq!(Quantity::parse("1iK"), Err(SUFFIX_ERROR));
        assert_eq!(Quantity::parse("1e"), Err(SUFFIX_ERROR));
        assert!(matches!(Quantity::parse(&"9".repeat(60)), Ok(None)));
        assert!(matches!(Quantity::parse("1e99999999"), Ok(None)));
    }

    #[test]
    fn scaled_values_round_up() {
        let q = |s: &str| Quantity::parse(s).unwrap().unwrap();
        assert_eq!(q("500m").scaled_value(-3), 500);
        assert_eq!(q("1").scaled_value(-3), 1000);
        assert_eq!(q("1.5").scaled_value(0), 2);
        assert_eq!(q("100m").scaled_value(0), 1);
        assert_eq!(q("128Mi").scaled_value(0), 128 << 20);
        assert_eq!(q("1e3").scaled_value(0), 1000);
        assert_eq!(q("1e30").scaled_value(0), i64::MAX);
    }

    #[test]
    fn comparisons() {
        let q = |s: &str| Quantity::parse(s).unwrap().unwrap();
        assert_eq!(q("1").cmp_value(&q("1000m")), Ordering::Equal);
        assert_eq!(q("1Gi").cmp_value(&q("1G")), Ordering::Greater);
        assert_eq!(q("500m").cmp_value(&q("0.6")), Ordering::Less);
        assert_eq!(q("-1").signum(), -1);
        assert!(q("2").is_integer());
        assert!(!q("2.5").is_integer());
        assert!(q("1e3").is_integer());
    }
}
