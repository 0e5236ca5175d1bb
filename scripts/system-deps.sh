#!/usr/bin/env bash
# Debian packages Groundwork uses: LibreOffice (headless; converts .doc/.ppt/.xls) and Tesseract (OCR of scans
# and images) for ingestion; with --test also the PostgreSQL server binaries (the store's tests start a
# throwaway cluster on 127.0.0.1) and chromium (the UI's browser test drives it with playwright).
# Installs only what is missing, and only where apt-get is usable; otherwise says once what to run.
set -euo pipefail
have_pg() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
missing=()
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-writer-nogui libreoffice-impress-nogui libreoffice-calc-nogui)
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr tesseract-ocr-eng)
# More OCR languages where the settings ask for them (RAG_INGEST__OCR_LANGUAGES='["eng","deu"]'): a package each.
for lang in $(printf '%s' "${RAG_INGEST__OCR_LANGUAGES:-}" | tr -d '[]" ' | tr ',' ' '); do
    [ -f "/usr/share/tesseract-ocr/5/tessdata/$lang.traineddata" ] || missing+=("tesseract-ocr-$lang")
done
if [ "${1:-}" = "--test" ]; then
    have_pg || missing+=(postgresql)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
else
    echo "system-deps: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    echo "system-deps: until then legacy Office files, scans and images are refused with that reason" \
         "(and the tests that need these programs are skipped)" >&2
fi
