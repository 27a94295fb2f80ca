//! `upkeep bond` / `clpbondcf`: the NIC bonding setup tool (BOND-1..22).

/// Runs the bonding tool with the arguments after `bond` (or after `clpbondcf`) and returns the
/// process exit status (BOND-11).
pub fn run(_args: &[String]) -> i32 {
    eprintln!("Internal error. (code=1)");
    115
}
