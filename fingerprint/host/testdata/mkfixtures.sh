#!/bin/sh
# mkfixtures.sh rebuilds the fixture roots in this directory: sysfs trees
# laid out as Linux lays them out (class entries are relative symlinks into
# sys/devices), with the udev data, DMI tables and /etc files that the
# collectors read. Run it from anywhere; it replaces the four trees.
#
#   baremetal  server: two PCI NICs, docker0, a veth, a bridge, Wi-Fi with
#              a random MAC, a USB NIC; SATA and NVMe disks, a USB stick
#   kvm        KVM guest: virtio NIC (52:54:00:...), QEMU DMI, virtio disk
#              without serial, a CD-ROM
#   container  Docker container root: veth eth0 only, no DMI, /.dockerenv
#   bonded     bonded server: two slaves behind bond0, placeholder DMI,
#              a SATA disk whose serial only the VPD page gives
set -eu
cd "$(dirname "$0")"

# put FILE VALUE: write VALUE and a newline to FILE, creating directories.
put() {
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" >"$1"
}

# link TARGET NAME: a symlink, creating NAME's directory.
link() {
	mkdir -p "$(dirname "$2")"
	ln -sfn "$1" "$2"
}

# nic ROOT NAME DEVDIR ADDR ADDR_ASSIGN_TYPE: an interface whose kernel
# directory is sys/devices/DEVDIR/net/NAME. Interfaces outside
# devices/virtual get the device link and bus of a real adapter.
nic() {
	root=$1 name=$2 devdir=$3 addr=$4 aat=$5
	d=$root/sys/devices/$devdir/net/$name
	put "$d/address" "$addr"
	put "$d/addr_assign_type" "$aat"
	put "$d/type" 1
	put "$d/flags" 0x1003
	put "$d/operstate" up
	put "$d/mtu" 1500
	link "../../devices/$devdir/net/$name" "$root/sys/class/net/$name"
	case $devdir in
	virtual) ;;
	*) link "../../../$(basename "$devdir")" "$d/device" ;;
	esac
}

# bus ROOT DEVDIR BUS: the subsystem link of a device.
bus() {
	root=$1 devdir=$2 bus=$3
	up=$(printf '%s' "devices/$devdir" | sed 's|[^/]*|..|g')
	put "$root/sys/bus/$bus/drivers_autoprobe" 1
	link "$up/bus/$bus" "$root/sys/devices/$devdir/subsystem"
}

# disk ROOT NAME DEVDIR DEVICE_LINK MAJ:MIN REMOVABLE ROTATIONAL: a block
# device at sys/devices/DEVDIR/NAME with /sys/block/NAME pointing at it.
disk() {
	root=$1 name=$2 devdir=$3 devlink=$4 devno=$5 removable=$6 rot=$7
	d=$root/sys/devices/$devdir/$name
	put "$d/dev" "$devno"
	put "$d/size" 1000215216
	put "$d/removable" "$removable"
	put "$d/ro" 0
	put "$d/queue/rotational" "$rot"
	put "$d/queue/logical_block_size" 512
	put "$d/queue/physical_block_size" 4096
	if [ -n "$devlink" ]; then link "$devlink" "$d/device"; fi
	link "../devices/$devdir/$name" "$root/sys/block/$name"
}

# part ROOT DISKDIR NAME MAJ:MIN: a partition of the disk at DISKDIR.
part() {
	put "$1/sys/devices/$2/$3/dev" "$4"
	put "$1/sys/devices/$2/$3/size" 1048576
	put "$1/sys/devices/$2/$3/partition" "${3##*[!0-9]}"
}

# udev ROOT MAJ:MIN KEY=VALUE...: the udev database entry of a block device.
udev() {
	root=$1 devno=$2
	shift 2
	f=$root/run/udev/data/b$devno
	mkdir -p "$(dirname "$f")"
	: >"$f"
	for kv in "$@"; do printf 'E:%s\n' "$kv" >>"$f"; done
}

# dmi ROOT KEY=VALUE...: files of sys/class/dmi/id, as the kernel's
# dmi-id driver lays them out under sys/devices/virtual/dmi/id.
dmi() {
	root=$1
	shift
	for kv in "$@"; do put "$root/sys/devices/virtual/dmi/id/${kv%%=*}" "${kv#*=}"; done
	link ../../devices/virtual/dmi/id "$root/sys/class/dmi/id"
}

rm -rf baremetal kvm container bonded

# --- baremetal ------------------------------------------------------------
r=baremetal
nic $r eno1 pci0000:00/0000:00:1f.6 3c:ec:ef:12:a4:01 0
bus $r pci0000:00/0000:00:1f.6 pci
nic $r enp59s0f0 pci0000:3a/0000:3a:00.0/0000:3b:00.0 b4:96:91:5c:2e:10 0
bus $r pci0000:3a/0000:3a:00.0/0000:3b:00.0 pci
nic $r wlp0s20f3 pci0000:00/0000:00:14.3 d2:6b:1f:88:03:7e 1
bus $r pci0000:00/0000:00:14.3 pci
put $r/sys/devices/pci0000:00/0000:00:14.3/ieee80211/phy0/name phy0
link ../../ieee80211/phy0 $r/sys/devices/pci0000:00/0000:00:14.3/net/wlp0s20f3/phy80211
nic $r enx00e04c680042 pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0 00:e0:4c:68:00:42 0
bus $r pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0 usb
nic $r docker0 virtual 02:42:7d:1c:9a:5e 3
put $r/sys/devices/virtual/net/docker0/bridge/bridge_id 8000.02427d1c9a5e
nic $r veth3f1a2b9 virtual 8e:21:4d:0a:7b:c3 1
nic $r br0 virtual 3c:ec:ef:12:a4:02 3
put $r/sys/devices/virtual/net/br0/bridge/bridge_id 8000.3cecef12a402
nic $r lo virtual 00:00:00:00:00:00 0
put $r/sys/devices/virtual/net/lo/type 772
dmi $r sys_vendor="Dell Inc." product_name="PowerEdge R650" \
	product_version="Not Specified" product_family=PowerEdge \
	product_serial=7XK2M63 product_uuid=4c4c4544-0058-4b10-8032-b7c04f4d3633 \
	product_sku="SKU=090C;ModelName=PowerEdge R650" \
	board_vendor="Dell Inc." board_name=0PYXKY board_version=A01 \
	board_serial=.7XK2M63.CNFCW0012G00AB. board_asset_tag="" \
	bios_vendor="Dell Inc." bios_version=1.10.2 chassis_type=23
disk $r sda pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block ../../../0:0:0:0 8:0 0 0
put $r/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/vendor "ATA     "
part $r pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda sda1 8:1
udev $r 8:0 ID_MODEL=Samsung_SSD_870_EVO_1TB ID_SERIAL=Samsung_SSD_870_EVO_1TB_S626NF0R412345A \
	ID_SERIAL_SHORT=S626NF0R412345A ID_PATH=pci-0000:00:17.0-ata-1
udev $r 8:1 ID_PART_ENTRY_NAME=root ID_FS_TYPE=ext4
disk $r nvme0n1 pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0 ../../nvme0 259:0 0 0
put $r/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/serial "PHLJ912300AB1P0FGN  "
udev $r 259:0 ID_MODEL=INTEL_SSDPE2KX010T8 ID_SERIAL=INTEL_SSDPE2KX010T8_PHLJ912300AB1P0FGN \
	ID_SERIAL_SHORT=PHLJ912300AB1P0FGN ID_PATH=pci-0000:3d:00.0-nvme-1
disk $r sdb pci0000:00/0000:00:14.0/usb2/2-2/2-2:1.0/host6/target6:0:0/6:0:0:0/block ../../../6:0:0:0 8:16 1 0
udev $r 8:16 ID_MODEL=Ultra ID_SERIAL=SanDisk_Ultra_4C530001230517118283-0:0 \
	ID_SERIAL_SHORT=4C530001230517118283 ID_BUS=usb
disk $r loop0 virtual/block "" 7:0 0 0
put $r/etc/machine-id 6a1c3e4f0b2d4e8f9a7b5c3d1e0f2a4b

# --- kvm ------------------------------------------------------------------
r=kvm
nic $r eth0 pci0000:00/0000:00:03.0/virtio0 52:54:00:8a:3c:51 0
bus $r pci0000:00/0000:00:03.0/virtio0 virtio
nic $r lo virtual 00:00:00:00:00:00 0
put $r/sys/devices/virtual/net/lo/type 772
dmi $r sys_vendor=QEMU "product_name=Standard PC (Q35 + ICH9, 2009)" \
	product_version=pc-q35-8.2 product_family="" product_serial="" \
	product_uuid=8f3a2c1e-5b7d-4e9f-a1c3-2d4e6f8a0b1c product_sku="" \
	board_vendor="" board_name="" board_version="" board_serial="" \
	bios_vendor="SeaBIOS" bios_version=1.16.3-debian-1.16.3-2 chassis_type=1
disk $r vda pci0000:00/0000:00:04.0/virtio1/block ../../../virtio1 253:0 0 1
put $r/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/serial ""
part $r pci0000:00/0000:00:04.0/virtio1/block/vda vda1 253:1
disk $r sr0 pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block ../../../0:0:0:0 11:0 1 1
put $r/etc/machine-id 0f5e2b8c9d3a4761b2e1c4d7a8f60312
link /etc/machine-id $r/var/lib/dbus/machine-id

# --- container --------------------------------------------------------------
r=container
nic $r eth0 virtual 02:42:ac:11:00:02 3
nic $r lo virtual 00:00:00:00:00:00 0
put $r/sys/devices/virtual/net/lo/type 772
: >$r/.dockerenv
put $r/etc/hostname 4f2a9c1e7b3d

# --- bonded -----------------------------------------------------------------
r=bonded
nic $r eno1 pci0000:00/0000:00:1c.0/0000:02:00.0 0c:c4:7a:31:5e:20 3
bus $r pci0000:00/0000:00:1c.0/0000:02:00.0 pci
put $r/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/net/eno1/bonding_slave/perm_hwaddr 0c:c4:7a:31:5e:20
put $r/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/net/eno1/bonding_slave/state active
link ../../../../../virtual/net/bond0 $r/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/net/eno1/master
nic $r eno2 pci0000:00/0000:00:1c.0/0000:02:00.1 0c:c4:7a:31:5e:20 3
bus $r pci0000:00/0000:00:1c.0/0000:02:00.1 pci
put $r/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.1/net/eno2/bonding_slave/perm_hwaddr 0c:c4:7a:31:5e:21
put $r/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.1/net/eno2/bonding_slave/state backup
link ../../../../../virtual/net/bond0 $r/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.1/net/eno2/master
nic $r bond0 virtual 0c:c4:7a:31:5e:20 3
put $r/sys/devices/virtual/net/bond0/bonding/mode "active-backup 1"
put $r/sys/devices/virtual/net/bond0/bonding/slaves "eno1 eno2"
put $r/sys/class/net/bonding_masters bond0
nic $r lo virtual 00:00:00:00:00:00 0
put $r/sys/devices/virtual/net/lo/type 772
dmi $r sys_vendor="To be filled by O.E.M." product_name="To be filled by O.E.M." \
	product_version="To be filled by O.E.M." product_serial="To be filled by O.E.M." \
	product_uuid=00000000-0000-0000-0000-000000000000 \
	board_vendor=Supermicro board_name=X11SCL-F board_version=1.02 \
	board_serial="Default string" board_asset_tag="Default string" \
	bios_vendor="American Megatrends Inc." chassis_type=3
disk $r sda pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block ../../../0:0:0:0 8:0 0 1
# The VPD page 0x80 as libata emulates it: a 4-byte header, then the
# ATA serial padded with spaces to 20 bytes.
printf '\000\200\000\024WD-WCC7K4KL2JXT    ' \
	>$r/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/vpd_pg80
mkdir -p $r/etc && : >$r/etc/machine-id
