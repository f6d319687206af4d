#!/usr/bin/env bash
# Builds the Debian package of tandem with cargo-deb: the binary, its man pages and shell
# completions (generated from the binary), the systemd unit (packaging/tandem.service, not
# enabled on install) and a `tandem` system user (packaging/debian/postinst).
#
#   scripts/package.sh                    # release build -> target/debian/tandem_*.deb
#   scripts/package.sh --profile dev      # package the debug build already there (tests)
#
# cargo-deb is installed into ${TANDEM_CACHE:-.cache}/cargo-deb when missing. TANDEM_COMMIT
# names the commit in `tandem --version` when building outside a git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "package: unknown argument $1 (want --profile NAME, --no-build)" >&2; exit 2 ;;
  esac
done
source scripts/setup.sh
cache="${TANDEM_CACHE:-$PWD/.cache}"
deb="$cache/cargo-deb/bin/cargo-deb"
if [ ! -x "$deb" ]; then
  echo "package: installing cargo-deb into $cache/cargo-deb" >&2
  cargo install --locked --quiet --root "$cache/cargo-deb" cargo-deb
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
outdir=$([ "$profile" = dev ] && echo debug || echo "$profile")
if [ "$build" = 1 ]; then
  cargo build --quiet --profile "$profile" -p tandem --bin tandem
fi
bin="$target/$outdir/tandem"
assets="$target/package-assets"
rm -rf "$assets" && mkdir -p "$assets/man" "$assets/completions"
"$bin" man "$assets/man" >/dev/null
gzip -9n "$assets/man/"*.1
"$bin" completions bash >"$assets/completions/tandem"
"$bin" completions zsh >"$assets/completions/_tandem"
"$bin" completions fish >"$assets/completions/tandem.fish"
# cargo-deb reads asset paths relative to crates/tandem; the generated ones live in the target.
ln -sfn "$assets" crates/tandem/package-assets
trap 'rm -f crates/tandem/package-assets' EXIT
"$deb" --no-build --quiet -p tandem --profile "$profile" --output "$target/debian"
ls -1 "$target/debian/"*.deb | tail -1
