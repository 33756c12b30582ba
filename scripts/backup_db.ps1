<#
.SYNOPSIS
  Runs `dbguard backup` for Windows Task Scheduler (or by hand).

.DESCRIPTION
  Every argument goes to `dbguard backup` unchanged, e.g.
      scripts\backup_db.ps1 both --keep=50
  Everything dbguard prints (stdout and stderr) is appended, line by line with
  a timestamp, to the log file and shown on the console. The script exits with
  dbguard's exit code (0 ok, 2 usage, 3 config, 4 damaged, 5 busy, 6 storage,
  130 interrupted), so Task Scheduler's "Last Run Result" shows failures.

  Environment:
    DBGUARD_BIN  the dbguard executable (default: node <this folder>\..\dist\cli\main.js)
    DBGUARD_LOG  the log file (default: <this folder>\..\logs\backup.log)
    DBGUARD_CONFIG and the other DBGUARD_* variables reach dbguard as usual.

  dbguard reads .\dbguard.config.json, so set the task's "Start in" folder to
  the folder that holds the config, or pass --config.

.EXAMPLE
  Task Scheduler action "Start a program":
    Program/script:  powershell.exe
    Add arguments:   -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\apps\dbguard\scripts\backup_db.ps1" both
    Start in:        C:\apps\myservice
#>

$ErrorActionPreference = 'Stop'

$project = Split-Path -Parent $PSScriptRoot
$log = if ($env:DBGUARD_LOG) { $env:DBGUARD_LOG } else { Join-Path (Join-Path $project 'logs') 'backup.log' }

try {
  $logDir = Split-Path -Parent $log
  if ($logDir -and -not (Test-Path -LiteralPath $logDir)) { New-Item -ItemType Directory -Path $logDir -Force | Out-Null }
  Add-Content -LiteralPath $log -Value $null -Encoding UTF8
} catch {
  [Console]::Error.WriteLine("backup_db.ps1: cannot write the log file ${log}: $($_.Exception.Message); set DBGUARD_LOG to a writable file")
  exit 6
}

function Write-Log([string]$line) {
  $stamped = '{0} {1}' -f (Get-Date -Format 'yyyy-MM-ddTHH:mm:sszzz'), $line
  Add-Content -LiteralPath $log -Value $stamped -Encoding UTF8
  Write-Host $stamped
}

if ($env:DBGUARD_BIN) {
  $exe = $env:DBGUARD_BIN
  $exeArgs = @()
} else {
  $exe = 'node'
  $exeArgs = @(Join-Path (Join-Path (Join-Path $project 'dist') 'cli') 'main.js')
}

if (-not (Get-Command $exe -ErrorAction SilentlyContinue)) {
  Write-Log "error: cannot find $exe; install Node.js 20 or set DBGUARD_BIN to the dbguard executable"
  exit 127
}

Write-Log ("start: dbguard backup " + ($args -join ' '))

# dbguard writes warnings and errors to stderr; in Windows PowerShell 5.1 those
# lines arrive as error records, which must not stop the script.
$ErrorActionPreference = 'Continue'
& $exe @exeArgs backup @args 2>&1 | ForEach-Object {
  if ($_ -is [System.Management.Automation.ErrorRecord]) { Write-Log $_.Exception.Message } else { Write-Log "$_" }
}
$code = $LASTEXITCODE
if ($null -eq $code) { $code = 1 }

Write-Log "end: exit code $code"
exit $code
