var KEYBOX_BUILD={"pins":{"led":{"pin":"D12","activeLow":true}}};
(function(){var s=require("Storage"),c=require("crypto");
var t="quote \" backslash \\ tab \t newline \n octal-looking \x01\x07 high \xe9\xff end";
var r=/\/\*not a comment\*\/|"|'/g;
function h(d){return c.SHA256(d)}
function blink(){digitalPulse(D12,0,20)}
function boot(){var l=s.readJSON("kb.cfg",1)||{};digitalWrite(D12,1);setInterval(blink,5000);return h(t+JSON.stringify(l))}
var words=["alpha","bravo","charlie","delta","echo","foxtrot","golf","hotel","india","juliett","kilo","lima","mike","november","oscar","papa","quebec","romeo","sierra","tango","uniform","victor","whiskey","xray","yankee","zulu"];
var table="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
var more="ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvutsrqponmlkjihgfedcba9876543210";
var last="the quick brown fox jumps over the lazy dog; THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG; the quick brown fox jumps over the lazy dog again";
function pick(i){return words[i%words.length]+table.charAt(i%table.length)+more.charAt(i%more.length)+last.charAt(i%last.length)}
function spin(n){var o="",i=0;while(i<n){o+=pick(i);i++}return o}
if(typeof E!=="undefined"){E.on("init",boot)}
var a=spin(3),b=spin(5),d=spin(8);
var lines=["line one of a longer text block that keeps the fixture above two kilobytes so it needs several Storage writes",
"line two of a longer text block that keeps the fixture above two kilobytes so it needs several Storage writes",
"line three of a longer text block that keeps the fixture above two kilobytes so it needs several Storage writes",
"line four of a longer text block that keeps the fixture above two kilobytes so it needs several Storage writes",
"line five of a longer text block that keeps the fixture above two kilobytes so it needs several Storage writes",
"line six of a longer text block that keeps the fixture above two kilobytes so it needs several Storage writes"];
boot()})();
