//! Frees the `list<u8>` a Python stage returns, which componentize-py 0.25.1
//! never gives back: one frame per `draw` call (a draw stage hits the 64 MiB
//! cap within ~40 frames of 768x576) and the state bytes of every `save`.
//!
//! Where the leak is: componentize-py's runtime (`runtime/src/lib.rs`,
//! `impl Call for MyCall`, `maybe_pop_list`) copies the returned `bytes` into
//! a fresh `alloc::alloc` buffer and hands its pointer to the wit-dylib glue
//! (module `libcomponentize_py_bindings.so`), which stores it as the result
//! and never frees it; the glue's post-return (`cabi_post_<export>`) only
//! calls `wit_dylib_export_finish`, which frees what the call *deferred*, and
//! this buffer was not deferred. The fix: `plugin build` prepends to those
//! post-return functions a call `wit_dylib_dealloc_bytes(0, ptr, len, 1, 0)`
//! (free now, same allocator and layout) on the (ptr, len) the export
//! returned. For `list<u8>` that buffer is the only one: 0.25.1's
//! `maybe_pop_list` answers for every u8 list, so the glue's own
//! allocate-and-defer path never runs for these results. Applied only for
//! the pinned componentize-py (`PATCHED_VERSION`): a version that frees the
//! buffer itself would free it twice.

use std::ops::Range;

use thiserror::Error;
use wasmparser::{CompositeInnerType, ExternalKind, FuncType, Parser, Payload, TypeRef, ValType};

/// The componentize-py release whose leak this patches.
pub const PATCHED_VERSION: &str = "0.25.1";
/// Exports of the contract (`wit/since_v0.3.0`) that return `list<u8>`.
pub const BYTE_LIST_EXPORTS: [&str; 2] = ["draw", "save"];
/// The glue's import that frees a buffer of the runtime's allocator.
const DEALLOC: (&str, &str) = ("env", "wit_dylib_dealloc_bytes");
const CODE_SECTION: u8 = 10;

#[derive(Debug, Error)]
pub enum PatchError {
    #[error("not a component componentize-py {PATCHED_VERSION} makes: {0}")]
    Unexpected(String),
    #[error("unreadable component: {0}")]
    Parse(#[from] wasmparser::BinaryReaderError),
}

fn unexpected(what: impl Into<String>) -> PatchError {
    PatchError::Unexpected(what.into())
}

/// `component` with the post-return of each export in `exports` that returns
/// `list<u8>` freeing the returned buffer; the number of functions patched.
pub fn free_returned_bytes(
    component: &[u8],
    exports: &[&str],
) -> Result<(Vec<u8>, usize), PatchError> {
    let mut depth = 0usize;
    let mut modules: Vec<Range<usize>> = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ModuleSection {
                unchecked_range, ..
            } if depth == 1 => modules.push(unchecked_range),
            _ => {}
        }
    }
    for range in modules {
        let module = component
            .get(range.clone())
            .ok_or_else(|| unexpected("module past the end"))?;
        if let Some((patched, count)) = patch_module(module, exports)? {
            return Ok((splice(component, range, &patched)?, count));
        }
    }
    Err(unexpected(format!(
        "no module imports {}.{} and exports cabi_post_{}",
        DEALLOC.0,
        DEALLOC.1,
        exports.join("/cabi_post_")
    )))
}

/// Replace the core module at `range` (its section header just before it).
fn splice(component: &[u8], range: Range<usize>, module: &[u8]) -> Result<Vec<u8>, PatchError> {
    let header = 1 + leb(range.len() as u32).len();
    let start = range
        .start
        .checked_sub(header)
        .ok_or_else(|| unexpected("module section header"))?;
    let mut expect = vec![1u8];
    expect.extend(leb(range.len() as u32));
    if component[start..range.start] != expect[..] {
        return Err(unexpected("module section size not in its shortest form"));
    }
    let mut out = Vec::with_capacity(component.len() + 64);
    out.extend_from_slice(&component[..start]);
    out.push(1);
    out.extend(leb(module.len() as u32));
    out.extend_from_slice(module);
    out.extend_from_slice(&component[range.end..]);
    Ok(out)
}

/// What the glue module holds that the patch needs.
#[derive(Default)]
struct Glue {
    types: Vec<Option<FuncType>>,
    imported_funcs: u32,
    dealloc: Option<u32>,
    func_types: Vec<u32>,
    /// Function index of each `cabi_post_<export>` found.
    post_returns: Vec<u32>,
}

impl Glue {
    fn type_of(&self, func: u32) -> Option<&FuncType> {
        let defined = func.checked_sub(self.imported_funcs)?;
        self.types
            .get(*self.func_types.get(defined as usize)? as usize)?
            .as_ref()
    }
}

fn is_sig(t: Option<&FuncType>, params: &[ValType], results: &[ValType]) -> bool {
    t.is_some_and(|t| t.params() == params && t.results() == results)
}

/// The module with its post-returns patched, or `None` if it is not the glue.
fn patch_module(module: &[u8], exports: &[&str]) -> Result<Option<(Vec<u8>, usize)>, PatchError> {
    let mut g = Glue::default();
    let mut dealloc_ty = None;
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::TypeSection(r) => {
                for group in r {
                    for sub in group?.into_types() {
                        g.types.push(match sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(f),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import?;
                    if let TypeRef::Func(ty) = import.ty {
                        if (import.module, import.name) == DEALLOC {
                            g.dealloc = Some(g.imported_funcs);
                            dealloc_ty = Some(ty);
                        }
                        g.imported_funcs += 1;
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for ty in r {
                    g.func_types.push(ty?);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e?;
                    let wanted = e
                        .name
                        .strip_prefix("cabi_post_")
                        .is_some_and(|n| exports.contains(&n));
                    if wanted && e.kind == ExternalKind::Func {
                        g.post_returns.push(e.index);
                    }
                }
            }
            _ => {}
        }
    }
    let Some(dealloc) = g.dealloc else {
        return Ok(None);
    };
    if g.post_returns.is_empty() {
        return Ok(None);
    }
    let i32s = [ValType::I32; 5];
    if !is_sig(
        dealloc_ty.and_then(|t| g.types.get(t as usize)?.as_ref()),
        &i32s,
        &[],
    ) {
        return Err(unexpected(format!(
            "{}.{} is not (i32 x5) -> ()",
            DEALLOC.0, DEALLOC.1
        )));
    }
    for &f in &g.post_returns {
        if !is_sig(g.type_of(f), &i32s[..1], &[]) {
            return Err(unexpected(format!(
                "post-return function {f} is not (i32) -> ()"
            )));
        }
    }
    let defined: Vec<u32> = g
        .post_returns
        .iter()
        .map(|f| f - g.imported_funcs)
        .collect();
    Ok(Some((
        rewrite_code(module, &defined, dealloc)?,
        defined.len(),
    )))
}

/// The instructions put first in each post-return: its parameter 0 points at
/// the returned (ptr: i32, len: i32).
fn free_prologue(dealloc: u32) -> Vec<u8> {
    const LOCAL_GET_0: [u8; 2] = [0x20, 0x00];
    const I32_LOAD: u8 = 0x28;
    let mut p = Vec::new();
    p.extend(LOCAL_GET_0);
    p.extend([I32_LOAD, 0x02, 0x00]); // ptr
    p.extend([0x04, 0x40]); // if (ptr != 0)
    p.extend([0x41, 0x00]); //   cx: unused when not deferred
    p.extend(LOCAL_GET_0);
    p.extend([I32_LOAD, 0x02, 0x00]); //   ptr
    p.extend(LOCAL_GET_0);
    p.extend([I32_LOAD, 0x02, 0x04]); //   len
    p.extend([0x41, 0x01]); //   align 1
    p.extend([0x41, 0x00]); //   defer: no, free now
    p.push(0x10); //   call
    p.extend(leb(dealloc));
    p.push(0x0b); // end
    p
}

/// `module` with `prologue` inserted at the start of the bodies of the
/// defined functions `defined`; every other section is copied as it is.
fn rewrite_code(module: &[u8], defined: &[u32], dealloc: u32) -> Result<Vec<u8>, PatchError> {
    let prologue = free_prologue(dealloc);
    let mut out = module[..8].to_vec();
    // The code section is written once its last body is read.
    let mut code: Option<(u32, Vec<u8>)> = None;
    let mut index = 0u32;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload?;
        match &payload {
            Payload::CodeSectionStart { count, .. } => code = Some((*count, Vec::new())),
            Payload::CodeSectionEntry(body) => {
                let (_, bodies) = code
                    .as_mut()
                    .ok_or_else(|| unexpected("code entry outside a code section"))?;
                let range = body.range();
                let mut body_bytes = module[range.clone()].to_vec();
                if defined.contains(&index) {
                    let mut locals = body.get_locals_reader()?;
                    for _ in 0..locals.get_count() {
                        locals.read()?;
                    }
                    let at = locals.original_position() - range.start;
                    body_bytes.splice(at..at, prologue.iter().copied());
                }
                bodies.extend(leb(body_bytes.len() as u32));
                bodies.extend(body_bytes);
                index += 1;
            }
            _ => match payload.as_section() {
                Some((id, range)) if id != CODE_SECTION => section(&mut out, id, &module[range]),
                _ => {}
            },
        }
        if code.as_ref().is_some_and(|(count, _)| *count == index) {
            let (count, bodies) = code.take().unwrap_or_default();
            let mut content = leb(count);
            content.extend(bodies);
            section(&mut out, CODE_SECTION, &content);
        }
    }
    Ok(out)
}

fn section(out: &mut Vec<u8>, id: u8, content: &[u8]) {
    out.push(id);
    out.extend(leb(content.len() as u32));
    out.extend_from_slice(content);
}

/// Unsigned LEB128, shortest form.
fn leb(mut v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_is_the_shortest_form() {
        assert_eq!(leb(0), [0]);
        assert_eq!(leb(127), [0x7f]);
        assert_eq!(leb(128), [0x80, 0x01]);
        assert_eq!(leb(624_485), [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn the_exports_patched_are_the_contracts_byte_list_results() {
        let wit = crate::commands::plugin_build::WIT;
        let mut returning: Vec<&str> = wit
            .lines()
            .filter(|l| l.trim_end().ends_with("-> list<u8>;"))
            .filter_map(|l| l.trim().strip_prefix("export ")?.split(':').next())
            .collect();
        returning.sort();
        returning.dedup();
        let mut ours = BYTE_LIST_EXPORTS.to_vec();
        ours.sort();
        assert_eq!(returning, ours);
    }

    #[test]
    fn a_component_without_the_glue_is_refused_untouched() {
        // A bare component: preamble only.
        let bare = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        assert!(matches!(
            free_returned_bytes(&bare, &BYTE_LIST_EXPORTS),
            Err(PatchError::Unexpected(_))
        ));
    }
}
