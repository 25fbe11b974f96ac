#!/bin/sh
# Under `fakedrm run`: follows the card's trace while modetest makes a commit the card
# rejects (a plane scaled by 2, which vkms-like planes cannot do), then stops the follower.
# The trace goes to $1: the test reads the diagnosis from it alone.
set -u
out=$1
"$FAKEDRM_BIN" ctl trace --follow > "$out" &
follower=$!
sleep 0.5
conn=$(modetest -M fakedrm -c 2>/dev/null | awk '/^Connectors:/ {getline; getline; print $1; exit}')
crtc=$(modetest -M fakedrm -p 2>/dev/null | awk '/^CRTCs:/ {getline; getline; print $1; exit}')
plane=$(modetest -M fakedrm -p 2>/dev/null | awk '/^Planes:/ {p=1; getline; next} p && /^[0-9]+\t/ {last=$1} /^Frame buffers:/ {p=0} END {print last}')
echo "connector $conn crtc $crtc plane $plane"
(sleep 1; echo) | modetest -M fakedrm -a -s "$conn@$crtc:1024x768" -P "$plane@$crtc:640x480*2" 2>&1 | grep -i "fail"
sleep 0.3
kill "$follower"
