# Sourced by the helm tests (run.sh, readme.sh) after they set `prestop`: installs what they
# need (setup.sh), and gives each run its own work directory with
#   helm         the pinned helm 4
#   validators   a copy of the checks (*.mjs), beside the validators setup.sh installed, so the
#                chart and README tests can run side by side
#   work/helm    a copy of the charts, `chart` its lameduck-agent with the dependency built:
#                `helm dependency build` writes charts/ into the chart it builds, never into the
#                source tree
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/tests/helm"
bash "$here/setup.sh"
helm=$(ls -d "$root"/.deps/helm-v*/helm | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
validators="$work/checks"
mkdir "$validators"
cp "$here"/*.mjs "$validators/"
ln -s "$root/.deps/helm-tests/node_modules" "$validators/node_modules"
cp -r "$root/helm" "$work/helm"
chart="$work/helm/lameduck-agent"
"$helm" dependency build "$chart" >/dev/null
