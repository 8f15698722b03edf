package main

import qrcode "github.com/skip2/go-qrcode"

// qrPNG draws a real QR code, so the mini-program code stand-in produces
// images a phone can scan in development.
func qrPNG(content string) ([]byte, error) {
	return qrcode.Encode(content, qrcode.Medium, 430)
}
