//! Generates include/mongoelector.h from src/ffi (written only when it
//! changes, so builds stay incremental) and sets the shared library's name.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets the version");
    // The soname names the ABI: it changes with every breaking release, which
    // before 1.0 is every minor release (libmongoelector.so.0.2), after it
    // every major one (libmongoelector.so.1).
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };

    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match target_os.as_str() {
        "linux" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmongoelector.so.{abi}");
            link_soname_in_tree(&abi);
        }
        "macos" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libmongoelector.dylib")
        }
        _ => {}
    }

    let config = cbindgen::Config::from_file(Path::new(&dir).join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let header = match cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            let mut out = Vec::new();
            bindings.write(&mut out);
            out
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    };
    let path = Path::new(&dir).join("include").join("mongoelector.h");
    if std::fs::read(&path).ok().as_deref() != Some(&header[..]) {
        std::fs::create_dir_all(path.parent().expect("include dir")).expect("create include/");
        std::fs::write(&path, header).expect("write include/mongoelector.h");
    }
}

/// Programs linked against the in-tree library look for it by its soname:
/// give target/<profile>/ a `libmongoelector.so.<abi>` link beside the file.
fn link_soname_in_tree(abi: &str) {
    let Ok(out_dir) = std::env::var("OUT_DIR") else {
        return;
    };
    // OUT_DIR is target/<profile>/build/<pkg>-<hash>/out
    let Some(profile_dir) = Path::new(&out_dir).ancestors().nth(3) else {
        return;
    };
    let link = profile_dir.join(format!("libmongoelector.so.{abi}"));
    if std::fs::symlink_metadata(&link).is_err() {
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink("libmongoelector.so", &link);
    }
}
