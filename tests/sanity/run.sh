#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/taskspread/ecs.
# Offline-safe: ansible-test's pip bootstrap download is replaced by a stand-in that uses ensurepip
# (see shared toolchain notes), and everything it creates stays under .cache/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# Outside the checkout so a fresh clone on the same machine reuses the sanity venvs.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/taskspread.ecs/ansible-test"
dest="$cache/src/ansible_collections/taskspread/ecs"
home="$cache/home"

mkdir -p "$home/.ansible/test/cache"
cat > "$home/.ansible/test/cache/get_pip_24_2.py" <<'PY'
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade"] + args)
PY

rm -rf "$dest"
mkdir -p "$dest"
# Only what ships in the collection (galaxy.yml build_ignore): the sandbox, the benchmarks and
# the test suites are Python projects of their own, linted by the tests that use them.
(cd "$root" && git ls-files -co --exclude-standard -z \
   | grep -zvE '^(sandbox|benchmarks|tests|extensions|docs)/' \
   | xargs -0 -I{} cp --parents {} "$dest/")
[ -d "$root/tests/sanity" ] && mkdir -p "$dest/tests" && cp -r "$root/tests/sanity" "$dest/tests/"
# The doc fragments and module_utils of our dependencies must sit beside us.
site=$(python -c 'import os, ansible_collections.amazon.aws as m; print(os.path.dirname(os.path.dirname(list(m.__path__)[0])))')
for dep in amazon/aws community/aws; do
  mkdir -p "$cache/src/ansible_collections/${dep%/*}"
  ln -sfn "$site/$dep" "$cache/src/ansible_collections/$dep"
done
cd "$dest"
git init -q && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
HOME="$home" ansible-test sanity --python 3.11 --venv --color no "$@"
