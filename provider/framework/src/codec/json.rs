//! The JSON form of cty values, as go-cty's `cty/json` writes it (state files, raw state).
//!
//! Decoding goes through a small parser of our own rather than `serde_json::Value`: it keeps
//! each number's decimal text, so numbers are read exactly (correctly rounded by Rust's own
//! float parsing), which serde_json only does with a feature this crate does not enable.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{
    exact_i64, infer_type, mapping, sequence, type_error, value_mismatch, with_path, CodecError,
    Step, MAX_DEPTH,
};
use crate::types::Type;
use crate::value::{Number, Value};

// ------------------------------------------------------------------------------ encoding

pub(super) fn encode(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = String::new();
    let mut path = Vec::new();
    write_value(&mut out, v, ty, &mut path)?;
    Ok(out.into_bytes())
}

fn write_value<'a>(
    out: &mut String,
    v: &'a Value,
    ty: &Type,
    path: &mut Vec<Step<'a>>,
) -> Result<(), CodecError> {
    match v {
        Value::Null => {
            out.push_str("null");
            return Ok(());
        }
        Value::Unknown => {
            return Err(CodecError::Json(with_path(
                "an unknown value cannot be encoded as JSON",
                path,
            )))
        }
        _ => {}
    }
    match ty {
        Type::Dynamic => {
            let inner = infer_type(v).map_err(|why| type_error(path, ty, why))?;
            out.push_str("{\"value\":");
            write_value(out, v, &inner, path)?;
            out.push_str(",\"type\":");
            out.push_str(&inner.to_json().to_string());
            out.push('}');
            Ok(())
        }
        Type::Bool => match v {
            Value::Bool(b) => {
                out.push_str(if *b { "true" } else { "false" });
                Ok(())
            }
            _ => Err(value_mismatch(path, ty, v)),
        },
        Type::Number => match v {
            Value::Number(n) => {
                let text = number_text(*n).ok_or_else(|| {
                    type_error(path, ty, format!("{n} cannot be represented in JSON"))
                })?;
                out.push_str(&text);
                Ok(())
            }
            _ => Err(value_mismatch(path, ty, v)),
        },
        Type::String => match v {
            Value::String(s) => {
                write_string(out, s);
                Ok(())
            }
            _ => Err(value_mismatch(path, ty, v)),
        },
        Type::List(et) | Type::Set(et) => {
            let elems = sequence(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            out.push('[');
            for (i, e) in elems.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(Step::Index(i));
                write_value(out, e, et, path)?;
                path.pop();
            }
            out.push(']');
            Ok(())
        }
        Type::Tuple(ts) => {
            let elems = sequence(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            if elems.len() != ts.len() {
                return Err(type_error(
                    path,
                    ty,
                    format!("{} elements are required, got {}", ts.len(), elems.len()),
                ));
            }
            out.push('[');
            for (i, (e, et)) in elems.iter().zip(ts).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(Step::Index(i));
                write_value(out, e, et, path)?;
                path.pop();
            }
            out.push(']');
            Ok(())
        }
        Type::Map(et) => {
            let entries = mapping(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            out.push('{');
            for (i, (k, e)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                path.push(Step::Key(k));
                write_value(out, e, et, path)?;
                path.pop();
            }
            out.push('}');
            Ok(())
        }
        Type::Object(attrs) => {
            let entries = mapping(v).ok_or_else(|| value_mismatch(path, ty, v))?;
            if let Some(extra) = entries.keys().find(|k| !attrs.contains_key(*k)) {
                path.push(Step::Attr(extra));
                return Err(type_error(
                    path,
                    ty,
                    format!("unexpected attribute {extra:?}"),
                ));
            }
            // Every attribute of the type, in name order, absent ones as null.
            out.push('{');
            for (i, (name, at)) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                match entries.get_key_value(name) {
                    Some((k, av)) => {
                        path.push(Step::Attr(k));
                        write_value(out, av, at, path)?;
                        path.pop();
                    }
                    None => out.push_str("null"),
                }
            }
            out.push('}');
            Ok(())
        }
    }
}

/// A number in plain decimal, as go-cty writes it (`big.Float.Text('f', -1)`): integers
/// without a fraction, other numbers in the shortest form that reads back exactly, never with
/// an exponent. Infinities and NaN have no JSON form.
fn number_text(n: Number) -> Option<String> {
    if let Some(i) = exact_i64(n) {
        return Some(i.to_string());
    }
    let f = n.as_f64();
    // Rust's `Display` for f64 is the shortest round-tripping form, in positional notation.
    f.is_finite().then(|| f.to_string())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ------------------------------------------------------------------------------ parsing

/// A parsed JSON document. Numbers keep their text; object members keep their order (and
/// duplicates, of which the last wins when decoding, as with Go's decoder).
enum Json<'a> {
    Null,
    Bool(bool),
    Num(&'a str),
    Str(Cow<'a, str>),
    Arr(Vec<Json<'a>>),
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "bool",
            Json::Num(_) => "number",
            Json::Str(_) => "string",
            Json::Arr(_) => "array",
            Json::Obj(_) => "object",
        }
    }

    /// As a `serde_json::Value`, for [`Type::from_json`] (types hold no numbers).
    fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Json::Null | Json::Num(_) => J::Null,
            Json::Bool(b) => J::Bool(*b),
            Json::Str(s) => J::String(s.to_string()),
            Json::Arr(items) => J::Array(items.iter().map(Json::to_serde).collect()),
            Json::Obj(members) => J::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_serde()))
                    .collect(),
            ),
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn error(&self, why: &str) -> CodecError {
        CodecError::Json(format!("{why} at byte {}", self.pos))
    }

    /// `src[from..self.pos]`; both ends are ASCII positions, so always char boundaries.
    fn slice(&self, from: usize) -> Result<&'a str, CodecError> {
        self.src
            .get(from..self.pos)
            .ok_or_else(|| self.error("internal error: bad slice"))
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &str, v: Json<'a>) -> Result<Json<'a>, CodecError> {
        let rest = self.src.as_bytes().get(self.pos..).unwrap_or_default();
        if rest.starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, CodecError> {
        if depth > MAX_DEPTH {
            return Err(self.error("value is nested too deeply"));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => Ok(Json::Num(self.number()?)),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(self.error("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a string key"));
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.error("expected ':'"));
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    members.push((key, v));
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return Err(self.error("expected ',' or '}'")),
                    }
                }
            }
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// A number per the JSON grammar, as its text.
    fn number(&mut self) -> Result<&'a str, CodecError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        self.slice(start)
    }

    fn hex4(&mut self) -> Result<u32, CodecError> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    /// A `\uXXXX` escape (the `\u` already read), joining surrogate pairs. A lone surrogate
    /// becomes U+FFFD, as Go's decoder does.
    fn unicode_escape(&mut self) -> Result<char, CodecError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            let bytes = self.src.as_bytes();
            if bytes.get(self.pos) == Some(&b'\\') && bytes.get(self.pos + 1) == Some(&b'u') {
                let save = self.pos;
                self.pos += 2;
                let second = self.hex4()?;
                if (0xDC00..0xE000).contains(&second) {
                    let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                self.pos = save;
            }
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// A string (at its opening quote), borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, CodecError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    let s = self.slice(start)?;
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(c) if c < 0x20 => return Err(self.error("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = self.slice(start)?.to_owned();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.pos += 1;
                    match escaped {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(c) if c < 0x20 => return Err(self.error("control character in string")),
                Some(_) => {
                    let run = self.pos;
                    while matches!(self.peek(), Some(c) if c != b'"' && c != b'\\' && c >= 0x20) {
                        self.pos += 1;
                    }
                    out.push_str(self.slice(run)?);
                }
            }
        }
    }
}

fn parse(b: &[u8]) -> Result<Json<'_>, CodecError> {
    let src =
        std::str::from_utf8(b).map_err(|e| CodecError::Json(format!("invalid UTF-8: {e}")))?;
    let mut p = Parser { src, pos: 0 };
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != src.len() {
        return Err(p.error("unexpected data after the value"));
    }
    Ok(v)
}

// ------------------------------------------------------------------------------ decoding

pub(super) fn decode(b: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let doc = parse(b)?;
    let mut path = Vec::new();
    read_value(&doc, ty, &mut path)
}

fn json_mismatch(path: &[Step<'_>], ty: &Type, j: &Json<'_>) -> CodecError {
    type_error(path, ty, format!("got a JSON {}", j.kind()))
}

fn read_value<'a>(
    j: &'a Json<'_>,
    ty: &Type,
    path: &mut Vec<Step<'a>>,
) -> Result<Value, CodecError> {
    if let Json::Null = j {
        return Ok(Value::Null);
    }
    match ty {
        Type::Dynamic => {
            let Json::Obj(members) = j else {
                return Err(type_error(
                    path,
                    ty,
                    format!(
                        "a dynamic value must be a {{\"value\": ..., \"type\": ...}} object, got a JSON {}",
                        j.kind()
                    ),
                ));
            };
            let (mut type_json, mut value) = (None, None);
            for (k, member) in members {
                match k.as_ref() {
                    "type" => type_json = Some(member),
                    "value" => value = Some(member),
                    other => {
                        return Err(type_error(
                            path,
                            ty,
                            format!("invalid key {other:?} in a dynamic value"),
                        ))
                    }
                }
            }
            let type_json =
                type_json.ok_or_else(|| type_error(path, ty, "a dynamic value lacks its type"))?;
            let value =
                value.ok_or_else(|| type_error(path, ty, "a dynamic value lacks its value"))?;
            let serde_type = type_json.to_serde();
            let inner = Type::from_json(&serde_type).ok_or_else(|| {
                type_error(
                    path,
                    ty,
                    format!("unsupported type {serde_type} in a dynamic value"),
                )
            })?;
            read_value(value, &inner, path)
        }
        Type::Bool => match j {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            // go-cty converts strings to bools the way cty's string conversion does.
            Json::Str(s) => match s.as_ref() {
                "true" | "1" => Ok(Value::Bool(true)),
                "false" | "0" => Ok(Value::Bool(false)),
                other => Err(type_error(path, ty, format!("{other:?} is not a bool"))),
            },
            _ => Err(json_mismatch(path, ty, j)),
        },
        Type::Number => {
            let text: &str = match j {
                Json::Num(t) => t,
                Json::Str(s) => s,
                _ => return Err(json_mismatch(path, ty, j)),
            };
            Number::parse(text)
                .map(Value::Number)
                .ok_or_else(|| type_error(path, ty, format!("{text:?} is not a finite number")))
        }
        Type::String => match j {
            Json::Str(s) => Ok(Value::String(s.to_string())),
            Json::Num(t) => Ok(Value::String((*t).to_owned())),
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(json_mismatch(path, ty, j)),
        },
        Type::List(et) | Type::Set(et) => {
            let Json::Arr(items) = j else {
                return Err(json_mismatch(path, ty, j));
            };
            let mut elems = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                elems.push(read_value(item, et, path)?);
                path.pop();
            }
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(elems)
            } else {
                Value::List(elems)
            })
        }
        Type::Tuple(ts) => {
            let Json::Arr(items) = j else {
                return Err(json_mismatch(path, ty, j));
            };
            if items.len() != ts.len() {
                return Err(type_error(
                    path,
                    ty,
                    format!("{} elements are required, got {}", ts.len(), items.len()),
                ));
            }
            let mut elems = Vec::with_capacity(items.len());
            for (i, (item, et)) in items.iter().zip(ts).enumerate() {
                path.push(Step::Index(i));
                elems.push(read_value(item, et, path)?);
                path.pop();
            }
            Ok(Value::Tuple(elems))
        }
        Type::Map(et) => {
            let Json::Obj(members) = j else {
                return Err(json_mismatch(path, ty, j));
            };
            let mut entries = BTreeMap::new();
            for (k, member) in members {
                path.push(Step::Key(k));
                let v = read_value(member, et, path)?;
                path.pop();
                entries.insert(k.to_string(), v);
            }
            Ok(Value::Map(entries))
        }
        Type::Object(attrs) => {
            let Json::Obj(members) = j else {
                return Err(json_mismatch(path, ty, j));
            };
            let mut entries = BTreeMap::new();
            for (k, member) in members {
                // Attributes the type lacks are ignored: raw state from an older schema
                // version may hold attributes that have since been removed.
                let Some(at) = attrs.get(k.as_ref()) else {
                    continue;
                };
                path.push(Step::Attr(k));
                let v = read_value(member, at, path)?;
                path.pop();
                entries.insert(k.to_string(), v);
            }
            for name in attrs.keys() {
                entries.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(entries))
        }
    }
}
