//! The Debian package and a clean Debian 12 root to install it in, as a technician's kiosk
//! PC would be: the package from `deploy/build-deb.sh` (release profile), the root from
//! Debian's own packages with `mmdebstrap` (minbase, plus what the package depends on).
//! Both are made once and kept in `target/debian`; `deploy/test.sh` makes them before the
//! tests (`MADOGUCHI_DEB`, `MADOGUCHI_DEB_ROOT`) so that their time shows as its own phase.

use crate::harness::{repo_root, FileLock};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The package, built (or found) once per process.
pub fn package() -> anyhow::Result<PathBuf> {
    if let Some(deb) = std::env::var_os("MADOGUCHI_DEB") {
        return Ok(PathBuf::from(deb));
    }
    let _lock = FileLock::acquire("madoguchi-deb.lock")?;
    let out = Command::new(repo_root().join("deploy/build-deb.sh"))
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run deploy/build-deb.sh")?;
    anyhow::ensure!(out.status.success(), "deploy/build-deb.sh failed");
    let path = String::from_utf8(out.stdout)?;
    let deb = repo_root().join(path.lines().last().context("no package path")?.trim());
    anyhow::ensure!(deb.exists(), "{} was not made", deb.display());
    Ok(deb)
}

/// A field of the package's control file (`Version`, `Depends`).
pub fn field(deb: &Path, name: &str) -> anyhow::Result<String> {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(name)
        .output()?;
    anyhow::ensure!(out.status.success(), "dpkg-deb -f {} {name}", deb.display());
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// The Debian 12 root as a tarball: minbase, the package's dependencies, and cage (so that
/// every unit the package ships can be verified there).
pub fn debian_root(deb: &Path) -> anyhow::Result<PathBuf> {
    if let Some(root) = std::env::var_os("MADOGUCHI_DEB_ROOT") {
        return Ok(PathBuf::from(root));
    }
    let mut include: Vec<String> = field(deb, "Depends")?
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    include.extend(["cage".into(), "sqlite3".into()]);
    include.sort();
    include.dedup();
    let list = include.join(",");
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        list.hash(&mut h);
        h.finish()
    };
    let tar = repo_root().join(format!("target/debian/bookworm-{key:016x}.tar"));
    let _lock = FileLock::acquire("madoguchi-debroot.lock")?;
    if !tar.exists() {
        std::fs::create_dir_all(tar.parent().unwrap())?;
        let partial = tar.with_extension("partial.tar");
        let status = Command::new("mmdebstrap")
            .args(["--quiet", "--variant=minbase", "--mode=root"])
            .arg(format!("--include={list}"))
            .arg("bookworm")
            .arg(&partial)
            .arg("http://deb.debian.org/debian")
            .status()
            .context("cannot run mmdebstrap")?;
        anyhow::ensure!(status.success(), "mmdebstrap failed");
        std::fs::rename(&partial, &tar)?;
    }
    Ok(tar)
}

/// A Debian 12 root unpacked from [`debian_root`] into a directory of its own; removed on drop.
pub struct Root {
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Root {
    pub fn unpack(tar: &Path) -> anyhow::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("madoguchi-root-")
            .tempdir()?;
        let dir = tmp.path().to_owned();
        let status = Command::new("tar")
            .args([
                "--extract",
                "--same-owner",
                "--preserve-permissions",
                "--file",
            ])
            .arg(tar)
            .arg("--directory")
            .arg(&dir)
            .status()?;
        anyhow::ensure!(status.success(), "cannot unpack {}", tar.display());
        Ok(Root { dir, _tmp: tmp })
    }

    /// `dir` inside the root as a host path.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside.trim_start_matches('/'))
    }

    /// Runs `script` (sh) inside the root as `user` (`root` or `name:group`), in a mount
    /// namespace of its own with /proc, and the host directories `binds` (host, inside)
    /// mounted where the root expects them.
    pub fn run(
        &self,
        user: &str,
        env: &[(&str, &str)],
        binds: &[(&Path, &str)],
        script: &str,
    ) -> anyhow::Result<Run> {
        let mut setup = String::from("set -e; ");
        setup.push_str(&format!(
            "mount -t proc proc {}; ",
            sh_quote(&self.path("/proc"))
        ));
        for (host, inside) in binds {
            let target = self.path(inside);
            std::fs::create_dir_all(&target)?;
            setup.push_str(&format!(
                "mount --bind {} {}; ",
                sh_quote(host),
                sh_quote(&target)
            ));
        }
        let mut chroot = String::from("exec chroot");
        if user != "root" {
            chroot.push_str(&format!(
                " --userspec={user} --groups={}",
                user.split(':').nth(1).unwrap_or(user)
            ));
        }
        chroot.push_str(&format!(
            " {} /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8",
            sh_quote(&self.dir)
        ));
        for (k, v) in env {
            chroot.push_str(&format!(" {k}={}", sh_quote(Path::new(v))));
        }
        chroot.push_str(&format!(" /bin/sh -c {}", sh_quote(Path::new(script))));
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!("{setup}{chroot}"))
            .stdin(Stdio::null())
            .output()?;
        Ok(Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// [`Root::run`] as root with no extra mounts, which must succeed; its stdout.
    pub fn sh(&self, script: &str) -> anyhow::Result<String> {
        let run = self.run("root", &[], &[], script)?;
        anyhow::ensure!(
            run.code == 0,
            "`{script}` failed ({}):\n{}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        Ok(run.stdout)
    }

    /// Installs `deb` with dpkg (as a technician would with `apt install ./madoguchi.deb`;
    /// the dependencies are already in the root).
    pub fn install(&self, deb: &Path) -> anyhow::Result<Run> {
        std::fs::copy(deb, self.path("/tmp/madoguchi.deb"))?;
        self.run("root", &[], &[], "dpkg --install /tmp/madoguchi.deb")
    }
}

/// What one command inside the root gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `deb` with another version in its control file: the same files, so that dpkg sees an
/// upgrade or a downgrade. Written beside `dir`.
pub fn with_version(deb: &Path, version: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let tree = dir.join(format!("tree-{version}"));
    let _ = std::fs::remove_dir_all(&tree);
    let status = Command::new("dpkg-deb")
        .arg("-R")
        .arg(deb)
        .arg(&tree)
        .status()?;
    anyhow::ensure!(status.success(), "dpkg-deb -R");
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control)?;
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("Version:") {
                format!("Version: {version}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&control, text)?;
    let out = dir.join(format!("madoguchi_{version}_amd64.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "-b"])
        .arg(&tree)
        .arg(&out)
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "dpkg-deb -b");
    Ok(out)
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}
