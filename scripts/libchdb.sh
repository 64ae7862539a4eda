#!/usr/bin/env bash
# Fetch libchdb.so, the embedded ClickHouse library, into the user cache and
# print its path. Idempotent: a library already in place is verified and
# reused. The only network access is `npm pack` from the npm registry.
#
#   scripts/libchdb.sh            # fetch if needed, print the path
#   TAPLINE_LIBCHDB=/path/libchdb.so scripts/libchdb.sh
#                                 # use that file instead (it must exist)
#
# The library lands in ${XDG_CACHE_HOME:-~/.cache}/tapline/<version>/package/
# libchdb.so, where Tapline looks for it by default (Go's os.UserCacheDir).
set -euo pipefail

version=26.5.3
package="@chdb/lib-linux-x64-gnu"
# SHA-512 of the npm tarball (npm's dist.integrity for this version, in hex).
tarball_sha512=7cfacb991b79328a2bf721b3e266b36eb3637b8b7b5fd281da64c6917156471441b3688acbcca1ea3c75d71b1ad10af788314c53fc87a9df9b55d6095eedd069
# SHA-256 and size of libchdb.so inside it.
lib_sha256=4330da79405733f7572f27c1442f46c03a08301f00859dce0368645731b1e1dc
lib_size=559044752

die() {
	echo "libchdb.sh: $*" >&2
	exit 1
}

if [[ -n "${TAPLINE_LIBCHDB:-}" ]]; then
	[[ -f "$TAPLINE_LIBCHDB" ]] || die "TAPLINE_LIBCHDB=$TAPLINE_LIBCHDB does not exist (unset it to fetch into the cache)"
	echo "$TAPLINE_LIBCHDB"
	exit 0
fi

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) die "chDB $version is packaged here for Linux x86-64 only, not $(uname -s)-$(uname -m)" ;;
esac

cache="${XDG_CACHE_HOME:-$HOME/.cache}/tapline"
dir="$cache/$version"
lib="$dir/package/libchdb.so"
tarball="$cache/chdb-lib-linux-x64-gnu-$version.tgz"

# A library in place is checked by size (hashing 560 MB takes seconds); it
# was checked by hash when it was installed.
lib_ok() {
	[[ -f "$lib" ]] && [[ "$(stat -c %s "$lib")" == "$lib_size" ]]
}

if lib_ok; then
	echo "$lib"
	exit 0
fi

mkdir -p "$cache"
if ! { [[ -f "$tarball" ]] && echo "$tarball_sha512  $tarball" | sha512sum --check --status; }; then
	command -v npm >/dev/null || die "npm is needed to fetch $package@$version (Debian: apt-get install npm)"
	echo "fetching $package@$version (about 170 MB) with npm pack" >&2
	tmp=$(mktemp -d "$cache/pack.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "$package@$version" >/dev/null) || die "npm pack $package@$version failed"
	packed=("$tmp"/*.tgz)
	[[ -f "${packed[0]}" ]] || die "npm pack produced no tarball"
	echo "$tarball_sha512  ${packed[0]}" | sha512sum --check --status ||
		die "$package@$version tarball does not match its pinned SHA-512"
	mv "${packed[0]}" "$tarball"
fi

# Unpack next to the final place, then move it in, so an interrupted run
# never leaves a half-written library where Tapline looks.
unpack=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$unpack" "${tmp:-}"' EXIT
tar -xzf "$tarball" -C "$unpack" package/libchdb.so
echo "$lib_sha256  $unpack/package/libchdb.so" | sha256sum --check --status ||
	die "libchdb.so in $tarball does not match its pinned SHA-256"
mkdir -p "$dir/package"
mv -f "$unpack/package/libchdb.so" "$lib"
lib_ok || die "could not install $lib"
echo "$lib"
