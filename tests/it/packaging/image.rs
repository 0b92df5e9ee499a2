//! The image's build context, rebuilt without a container engine. Exactly
//! what the Dockerfile's build stage copies (less what .dockerignore
//! excludes) goes into a folder of its own, which must then resolve with
//! the locked dependencies and build the binary the image ships. A path
//! that Cargo.toml names but the Dockerfile leaves out (benches/ once) fails
//! here just as it fails `docker compose up --build`.

use std::path::{Path, PathBuf};
use std::process::Command;

use globset::{GlobBuilder, GlobMatcher};

use super::root;

/// One `COPY` (or `ADD`) of a stage.
#[derive(Debug)]
struct Copy {
    /// `--from=STAGE`: copied from another stage, not from the context.
    from: Option<String>,
    sources: Vec<String>,
    dest: String,
}

/// One `FROM` … up to the next.
#[derive(Debug, Default)]
struct Stage {
    name: Option<String>,
    workdir: String,
    copies: Vec<Copy>,
    runs: Vec<String>,
}

/// The Dockerfile's stages, with line continuations joined and comments
/// dropped.
fn stages(dockerfile: &str) -> Vec<Stage> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in lines {
        let Some((instruction, args)) = line.trim().split_once(char::is_whitespace) else {
            continue;
        };
        let words: Vec<&str> = args.split_whitespace().collect();
        match instruction.to_ascii_uppercase().as_str() {
            "FROM" => stages.push(Stage {
                name: words
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case("as"))
                    .map(|i| words[i + 1].to_owned()),
                workdir: "/".into(),
                ..Stage::default()
            }),
            "WORKDIR" => {
                let stage = stages.last_mut().expect("WORKDIR before FROM");
                stage.workdir = absolute(&stage.workdir, args.trim());
            }
            "RUN" => stages
                .last_mut()
                .expect("RUN before FROM")
                .runs
                .push(args.trim().to_owned()),
            "COPY" | "ADD" => {
                assert!(
                    !args.trim_start().starts_with('['),
                    "the JSON form of {instruction} is not read by this test: {line}"
                );
                let (flags, paths): (Vec<&str>, Vec<&str>) =
                    words.iter().partition(|w| w.starts_with("--"));
                let from = flags
                    .iter()
                    .find_map(|f| f.strip_prefix("--from="))
                    .map(str::to_owned);
                let (dest, sources) = paths.split_last().expect("COPY names a destination");
                assert!(!sources.is_empty(), "COPY without a source: {line}");
                for s in sources {
                    assert!(
                        !s.contains(['*', '?', '[']) && !s.contains("://"),
                        "this test copies plain paths only, not {s:?} ({line})"
                    );
                }
                stages
                    .last_mut()
                    .expect("COPY before FROM")
                    .copies
                    .push(Copy {
                        from,
                        sources: sources.iter().map(|s| (*s).to_owned()).collect(),
                        dest: (*dest).to_owned(),
                    });
            }
            _ => {}
        }
    }
    stages
}

/// `path` inside the image, relative to `dir` unless absolute.
fn absolute(dir: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", dir.trim_end_matches('/'))
    }
}

/// .dockerignore: patterns matched against paths relative to the context;
/// the last matching one wins, `!` re-includes.
struct DockerIgnore(Vec<(bool, GlobMatcher)>);

impl DockerIgnore {
    fn read(context: &Path) -> Self {
        let text = std::fs::read_to_string(context.join(".dockerignore")).unwrap_or_default();
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (keep, pattern) = match l.strip_prefix('!') {
                    Some(p) => (true, p),
                    None => (false, l),
                };
                let pattern = pattern.trim_start_matches("./").trim_matches('/');
                let glob = GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .unwrap_or_else(|e| panic!(".dockerignore: {l:?}: {e}"));
                (keep, glob.compile_matcher())
            })
            .collect();
        DockerIgnore(rules)
    }

    /// Whether `path` (relative to the context) stays out of the context:
    /// the last rule matching it, or a folder above it, excludes it.
    fn excludes(&self, path: &Path) -> bool {
        path.ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .any(|a| {
                self.0
                    .iter()
                    .rev()
                    .find(|(_, glob)| glob.is_match(a))
                    .is_some_and(|(keep, _)| !keep)
            })
    }
}

/// Copies `from` (a file or a folder's contents) to `to` as `COPY` does,
/// leaving out what .dockerignore excludes; returns the files copied.
fn copy_into(context: &Path, ignore: &DockerIgnore, from: &Path, to: &Path) -> usize {
    let relative = from.strip_prefix(context).unwrap();
    if ignore.excludes(relative) {
        return 0;
    }
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        let mut copied = 0;
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copied += copy_into(context, ignore, &entry.path(), &to.join(entry.file_name()));
        }
        copied
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
        // The source's mtime, so Cargo sees unchanged files as unchanged
        // and checks only what changed since the last run.
        let modified = std::fs::metadata(from).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(to)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        1
    }
}

/// Builds the context of `stage` in `dir` from the repository's files;
/// panics naming any source that is missing or ignored.
fn build_context(stage: &Stage, dir: &Path) {
    let context = root();
    let ignore = DockerIgnore::read(context);
    for copy in stage.copies.iter().filter(|c| c.from.is_none()) {
        let dest = absolute(&stage.workdir, &copy.dest);
        let inside = dest
            .strip_prefix(&stage.workdir)
            .unwrap_or_else(|| panic!("COPY to {dest}, outside WORKDIR {}", stage.workdir))
            .trim_start_matches('/');
        let into_folder = copy.dest.ends_with('/') || copy.sources.len() > 1;
        for source in &copy.sources {
            let from = context.join(source.trim_start_matches("./"));
            assert!(
                from.exists(),
                "the Dockerfile copies {source}, which is not in the repository"
            );
            let to = if into_folder && from.is_file() {
                dir.join(inside).join(from.file_name().unwrap())
            } else {
                dir.join(inside)
            };
            let copied = copy_into(context, &ignore, &from, &to);
            assert!(
                copied > 0,
                "the Dockerfile copies {source}, but .dockerignore leaves nothing of it"
            );
        }
    }
}

/// Runs cargo in `dir` with the workspace's own target folder, so that
/// nothing but the copied crates is built again.
fn cargo(dir: &Path, args: &[&str]) -> String {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR lies in the target folder");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "`cargo {}` in the image's build context ({}) failed; does the Dockerfile copy \
         everything Cargo.toml and the sources name?\n{stderr}",
        args.join(" "),
        dir.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

fn dockerfile() -> Vec<Stage> {
    stages(&std::fs::read_to_string(root().join("Dockerfile")).unwrap())
}

/// The stage that runs `cargo build`, and the binary it builds.
fn build_stage(stages: &[Stage]) -> (&Stage, String) {
    stages
        .iter()
        .find_map(|s| {
            let run = s.runs.iter().find(|r| r.contains("cargo build"))?;
            assert!(
                run.contains("--locked"),
                "the image builds with the locked dependencies: {run}"
            );
            let words: Vec<&str> = run.split_whitespace().collect();
            let bin = words
                .iter()
                .position(|w| *w == "--bin")
                .map(|i| words[i + 1].to_owned())
                .unwrap_or_else(|| panic!("the image builds one named binary: {run}"));
            Some((s, bin))
        })
        .expect("a stage of the Dockerfile runs `cargo build`")
}

#[test]
fn the_build_context_of_the_image_resolves_and_builds_with_the_locked_dependencies() {
    let stages = dockerfile();
    let (stage, bin) = build_stage(&stages);
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image-build-context");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    build_context(stage, &dir);

    let metadata: serde_json::Value = serde_json::from_str(&cargo(
        &dir,
        &["metadata", "--locked", "--format-version", "1"],
    ))
    .unwrap();
    let members = metadata["workspace_members"].as_array().unwrap().len();
    assert!(members >= 3, "the workspace and its crates: {metadata:#}");
    cargo(&dir, &["check", "--locked", "--bin", &bin]);

    // What later stages take from the build stage is in its context (or is
    // what the build makes).
    let build_name = stage.name.as_deref().expect("the build stage is named");
    for copy in stages.iter().flat_map(|s| &s.copies) {
        if copy.from.as_deref() != Some(build_name) {
            continue;
        }
        for source in &copy.sources {
            let inside = source
                .strip_prefix(&stage.workdir)
                .unwrap_or_else(|| panic!("COPY --from={build_name} {source}: not under WORKDIR"))
                .trim_start_matches('/');
            if inside.starts_with("target/") {
                continue;
            }
            assert!(
                dir.join(inside).exists(),
                "COPY --from={build_name} {source}: not in the build stage's context"
            );
        }
    }
}

#[test]
fn what_the_runtime_stage_copies_from_the_repository_exists() {
    let stages = dockerfile();
    let ignore = DockerIgnore::read(root());
    let (build, _) = build_stage(&stages);
    let mut checked = 0;
    for stage in stages.iter().filter(|s| !std::ptr::eq(*s, build)) {
        for copy in stage.copies.iter().filter(|c| c.from.is_none()) {
            for source in &copy.sources {
                let relative = Path::new(source.trim_start_matches("./"));
                assert!(
                    root().join(relative).exists(),
                    "the Dockerfile copies {source}, which is not in the repository"
                );
                assert!(
                    !ignore.excludes(relative),
                    "the Dockerfile copies {source}, which .dockerignore excludes"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "the runtime stage copies its config");
}

#[test]
fn the_dockerfile_reader_sees_copies_workdir_and_the_ignore_rules() {
    let stages = stages(
        "FROM rust AS build\nWORKDIR /src\n# COPY nothing\nCOPY a b ./\nCOPY --chown=1 c \\\n  d\n\
         RUN cargo build --locked --bin x\nFROM scratch\nCOPY --from=build /src/e /e\n",
    );
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].name.as_deref(), Some("build"));
    assert_eq!(stages[0].workdir, "/src");
    let copies: Vec<(Vec<&str>, &str)> = stages[0]
        .copies
        .iter()
        .map(|c| {
            (
                c.sources.iter().map(String::as_str).collect(),
                c.dest.as_str(),
            )
        })
        .collect();
    assert_eq!(copies, [(vec!["a", "b"], "./"), (vec!["c"], "d")]);
    assert_eq!(build_stage(&stages).1, "x");
    assert_eq!(stages[1].copies[0].from.as_deref(), Some("build"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".dockerignore"),
        "target\n*.log\n!keep.log\n",
    )
    .unwrap();
    let ignore = DockerIgnore::read(dir.path());
    assert!(ignore.excludes(Path::new("target/debug/x")));
    assert!(ignore.excludes(Path::new("run.log")));
    assert!(!ignore.excludes(Path::new("keep.log")));
    assert!(
        !ignore.excludes(Path::new("src/run.log")),
        "`*` stays in its folder"
    );
    assert!(!ignore.excludes(Path::new("src/main.rs")));
}
