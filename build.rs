//! Compiles the small C shim that gives INCRBYFLOAT Redis's `long double` arithmetic.

fn main() {
    println!("cargo:rerun-if-changed=src/command/long_double.c");
    cc::Build::new()
        .file("src/command/long_double.c")
        .warnings(true)
        .compile("sessiond_long_double");
}
